"""Lua scripts: each write is one script, so it is atomic and a retried call cannot apply twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memory_core.providers.redis.connection import Link
from memory_core.providers.redis.schema import KeySpace

# Functions of the scripts that keep the users' sorted set and counts (schema.KeySpace.users_key): a document
# is counted for its user while it has a "seq" (written by memdash, or adopted); a user is in the set while
# counted documents are.
USERS = """
local function counted_user(key)
  local ok, seq = pcall(redis.call, 'JSON.GET', key, '$.seq')
  if not ok or not seq or seq == '[]' then return nil end
  local user = cjson.decode(redis.call('JSON.GET', key, '$.user_id'))[1]
  if type(user) == 'string' then return user end
  return nil
end
local function count(users, counts, user, delta)
  if redis.call('HINCRBY', counts, user, delta) > 0 then
    redis.call('ZADD', users, 0, user)
  else
    redis.call('HDEL', counts, user)
    redis.call('ZREM', users, user)
  end
end
"""

# KEYS[1] sequence counter, KEYS[2] users, KEYS[3] user counts, KEYS[4..] documents; ARGV[1] 'new' | 'replace',
# ARGV[2] the batch's created_at, then each document's JSON object without "seq", then each document's user.
# 'new' writes nothing when a key is taken and returns the positions of the taken keys; keys already holding
# this batch (a retried call) count as written.
INSERT = USERS + """
local n = #KEYS - 3
if ARGV[1] == 'new' then
  local taken, mine = {}, 0
  for i = 1, n do
    if redis.call('EXISTS', KEYS[i + 3]) == 1 then
      local ok, created = pcall(redis.call, 'JSON.GET', KEYS[i + 3], '$.created_at')
      if ok and created == '[' .. ARGV[2] .. ']' then mine = mine + 1 else table.insert(taken, i) end
    end
  end
  if #taken > 0 then return taken end
  if mine == n then return {} end
end
local first = redis.call('INCRBY', KEYS[1], n) - n
for i = 1, n do
  local before = counted_user(KEYS[i + 3])
  if before then count(KEYS[2], KEYS[3], before, -1) end
  local doc = ARGV[i + 2]
  redis.call('JSON.SET', KEYS[i + 3], '$', string.sub(doc, 1, -2) .. ',"seq":' .. (first + i) .. '}')
  count(KEYS[2], KEYS[3], ARGV[n + i + 2], 1)
end
return {}
"""

# KEYS[1] users, KEYS[2] user counts, KEYS[3] retrieval counts, KEYS[4] last retrievals, KEYS[5] retrieval log,
# KEYS[6..] documents; ARGV the documents' ids. Deletes the documents with their retrieval counts and log; returns
# how many existed.
DELETE = USERS + """
local deleted = 0
for i = 6, #KEYS do
  local user = counted_user(KEYS[i])
  if user then count(KEYS[1], KEYS[2], user, -1) end
  deleted = deleted + redis.call('DEL', KEYS[i])
end
for first = 1, #ARGV, 1000 do  -- unpack() is limited to a few thousand values
  local last = math.min(first + 999, #ARGV)
  redis.call('ZREM', KEYS[3], unpack(ARGV, first, last))
  redis.call('HDEL', KEYS[4], unpack(ARGV, first, last))
  redis.call('HDEL', KEYS[5], unpack(ARGV, first, last))
end
return deleted
"""

# KEYS[1] document; ARGV[1] expected version, ARGV[2] new document, ARGV[3] its write token ($.write, new for each
# call). Returns 'missing', 'conflict' or 'ok' (also for a retried call whose write already happened: its token is
# there; another process's save of the same version, even in the same microsecond, has another token).
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local version = tonumber(string.match(redis.call('JSON.GET', KEYS[1], '$.version'), '^%[(%d+)%]$') or '1')
local expected = tonumber(ARGV[1])
if version == expected + 1 and redis.call('JSON.GET', KEYS[1], '$.write') == '["' .. ARGV[3] .. '"]' then
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

# KEYS[1] sequence counter, KEYS[2] users, KEYS[3] user counts, KEYS[4..] documents; ARGV[1] now. Gives JSON
# objects that lack memdash's fields and have a string user_id (written by the toolkit) created_at = updated_at
# = now, version 1 (keeping any of them already there), a seq, user_key = sha1(user_id) and size, in one
# JSON.MERGE per document (one reindex), and counts them for their user; returns how many it stamped.
STAMP = SIZE_OF + USERS + """
local stamped = 0
for i = 4, #KEYS do
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
    count(KEYS[2], KEYS[3], user, 1)
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
    """The scripts of one key prefix, registered once per client (EVALSHA, falling back to EVAL)."""

    def __init__(self, link: Link, space: KeySpace) -> None:
        self._link = link
        self._space = space
        self._users = [space.users_key, space.user_counts_key]
        self._insert = link.client.register_script(INSERT)
        self._delete = link.client.register_script(DELETE)
        self._update = link.client.register_script(UPDATE)
        self._stamp = link.client.register_script(STAMP)
        self._vector = link.client.register_script(VECTOR)
        self._measure = link.client.register_script(MEASURE)

    async def insert(self, keys: Sequence[str], docs: Sequence[str], users: Sequence[str], *, replace: bool,
                     created_us: int) -> list[int]:
        """Write the documents (of these users); returns the 1-based positions of taken keys (nothing written
        then)."""
        args = ["replace" if replace else "new", created_us, *docs, *users]
        return list(await self._call(self._insert, [self._space.seq_key, *self._users, *keys], args))

    async def delete(self, keys: Sequence[str], ids: Sequence[str]) -> int:
        """Delete the documents, the retrieval counts and log of ``ids``; returns how many documents existed."""
        space = self._space
        return int(await self._call(self._delete, [*self._users, space.retrievals_key, space.retrieved_at_key,
                                                   space.retrieval_log_key, *keys], list(ids)))

    async def update(self, key: str, expected_version: int, doc: str, token: str) -> str:
        return await self._call(self._update, [key], [expected_version, doc, token])

    async def stamp(self, keys: Sequence[str], now_us: int) -> int:
        return int(await self._call(self._stamp, [self._space.seq_key, *self._users, *keys], [now_us]))

    async def measure(self, keys: Sequence[str]) -> int:
        return int(await self._call(self._measure, list(keys), []))

    async def set_vector(self, key: str, version: int, vector: str) -> str:
        return await self._call(self._vector, [key], [version, vector])

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return await self._link.run(lambda client: script(keys=keys, args=args, client=client))
