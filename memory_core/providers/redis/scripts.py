"""Lua scripts: each write is one script, so it is atomic and a retried call cannot apply twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memory_core.providers.redis.connection import Link

# KEYS[1] sequence counter, KEYS[2..] documents; ARGV[1] 'new' | 'replace', ARGV[2] the batch's created_at,
# ARGV[3..] each document's JSON object without "seq". 'new' writes nothing when a key is taken and returns
# the positions of the taken keys; keys already holding this batch (a retried call) count as written.
INSERT = """
local n = #KEYS - 1
if ARGV[1] == 'new' then
  local taken, mine = {}, 0
  for i = 1, n do
    if redis.call('EXISTS', KEYS[i + 1]) == 1 then
      local ok, created = pcall(redis.call, 'JSON.GET', KEYS[i + 1], '$.created_at')
      if ok and created == '[' .. ARGV[2] .. ']' then mine = mine + 1 else table.insert(taken, i) end
    end
  end
  if #taken > 0 then return taken end
  if mine == n then return {} end
end
local first = redis.call('INCRBY', KEYS[1], n) - n
for i = 1, n do
  local doc = ARGV[i + 2]
  redis.call('JSON.SET', KEYS[i + 1], '$', string.sub(doc, 1, -2) .. ',"seq":' .. (first + i) .. '}')
end
return {}
"""

# KEYS[1] document; ARGV[1] expected version, ARGV[2] new document, ARGV[3] its updated_at.
# Returns 'missing', 'conflict' or 'ok' (also for a retried call whose write already happened).
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local version = tonumber(string.match(redis.call('JSON.GET', KEYS[1], '$.version'), '^%[(%d+)%]$') or '1')
local expected = tonumber(ARGV[1])
if version == expected + 1 and redis.call('JSON.GET', KEYS[1], '$.updated_at') == '[' .. ARGV[3] .. ']' then
  return 'ok'
end
if version ~= expected then return 'conflict' end
redis.call('JSON.SET', KEYS[1], '$', ARGV[2])
return 'ok'
"""

# size(key): characters (not bytes) of $.memory plus those of every $.conversation[*].content, as
# memory_core.stats.item_size counts them: UTF-8 bytes that do not continue a character.
SIZE_OF = """
local function chars(text)
  if type(text) ~= 'string' then return 0 end
  local _, n = string.gsub(text, '[^\\128-\\191]', '')
  return n
end
local function size(key)
  local total = 0
  for _, path in ipairs({'$.memory', '$.conversation[*].content'}) do
    for _, text in ipairs(cjson.decode(redis.call('JSON.GET', key, path))) do total = total + chars(text) end
  end
  return total
end
"""

# KEYS[1] sequence counter, KEYS[2..] documents; ARGV[1] now. Gives JSON objects that lack memdash's fields
# and have a string user_id (written by the toolkit) created_at = updated_at = now, version 1 (keeping any of
# them already there), a seq, user_key = sha1(user_id) and size, in one JSON.MERGE per document (one reindex);
# returns how many it stamped.
STAMP = SIZE_OF + """
local stamped = 0
for i = 2, #KEYS do
  local ok, seq = pcall(redis.call, 'JSON.GET', KEYS[i], '$.seq')
  if ok and seq == '[]' and redis.call('JSON.TYPE', KEYS[i]) == 'object'
      and redis.call('JSON.TYPE', KEYS[i], '$.user_id')[1] == 'string' then
    local user = cjson.decode(redis.call('JSON.GET', KEYS[i], '$.user_id'))[1]
    local fields = {'"seq":' .. redis.call('INCR', KEYS[1]), '"user_key":"' .. redis.sha1hex(user) .. '"',
                    '"size":' .. size(KEYS[i])}
    for name, value in pairs({created_at = ARGV[1], updated_at = ARGV[1], version = '1'}) do
      if redis.call('JSON.GET', KEYS[i], '$.' .. name) == '[]' then
        table.insert(fields, '"' .. name .. '":' .. value)
      end
    end
    redis.call('JSON.MERGE', KEYS[i], '$', '{' .. table.concat(fields, ',') .. '}')
    stamped = stamped + 1
  end
end
return stamped
"""

# KEYS[1] document; ARGV[1] the version the vector was computed for, ARGV[2] the vector as a JSON array.
# Sets $.embedding only while the document still holds that version (an edit since then keeps its own
# vector); returns 'ok', 'missing' or 'conflict'. The memory itself, its version and times do not change.
VECTOR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local version = tonumber(string.match(redis.call('JSON.GET', KEYS[1], '$.version'), '^%[(%d+)%]$') or '1')
if version ~= tonumber(ARGV[1]) then return 'conflict' end
redis.call('JSON.SET', KEYS[1], '$.embedding', ARGV[2])
return 'ok'
"""


# KEYS documents written before memdash stored sizes. Sets $.size where it is missing on a JSON
# object; returns how many it measured.
MEASURE = SIZE_OF + """
local measured = 0
for i = 1, #KEYS do
  local ok, found = pcall(redis.call, 'JSON.GET', KEYS[i], '$.size')
  if ok and found == '[]' and redis.call('JSON.TYPE', KEYS[i]) == 'object' then
    redis.call('JSON.SET', KEYS[i], '$.size', size(KEYS[i]))
    measured = measured + 1
  end
end
return measured
"""


class Scripts:
    """The scripts, registered once per client (EVALSHA, falling back to EVAL)."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self._insert = link.client.register_script(INSERT)
        self._update = link.client.register_script(UPDATE)
        self._stamp = link.client.register_script(STAMP)
        self._vector = link.client.register_script(VECTOR)
        self._measure = link.client.register_script(MEASURE)

    async def insert(self, seq_key: str, keys: Sequence[str], docs: Sequence[str], *, replace: bool,
                     created_us: int) -> list[int]:
        """Write the documents; returns the 1-based positions of taken keys (nothing written then)."""
        args = ["replace" if replace else "new", created_us, *docs]
        return list(await self._call(self._insert, [seq_key, *keys], args))

    async def update(self, key: str, expected_version: int, doc: str, updated_us: int) -> str:
        return await self._call(self._update, [key], [expected_version, doc, updated_us])

    async def stamp(self, seq_key: str, keys: Sequence[str], now_us: int) -> int:
        return int(await self._call(self._stamp, [seq_key, *keys], [now_us]))

    async def measure(self, keys: Sequence[str]) -> int:
        return int(await self._call(self._measure, list(keys), []))

    async def set_vector(self, key: str, version: int, vector: str) -> str:
        return await self._call(self._vector, [key], [version, vector])

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return await self._link.run(lambda client: script(keys=keys, args=args, client=client))
