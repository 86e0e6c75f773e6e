"""RediSearch query text (dialect 2) from memdash's filters, cursors and search terms.

Tag values are escaped character by character, so user ids and tags with punctuation, ``-``, ``@``, spaces
or any script work. A tag index splits values on its separator and trims blanks, so an index query can
only narrow the candidates: the store re-checks every row with :meth:`MemoryFilter.matches`.
"""

from __future__ import annotations

import re
import string

from memory_core.providers.redis import documents
from memory_core.records import MemoryFilter, Sort, to_micros

_SPECIAL = frozenset(string.punctuation + string.whitespace)  # ASCII only: other characters need no escape
_BLANKS = " \t\n\r\f\v"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_WORD_SPLIT = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]+")  # ASCII except letters, digits, "_"


def escape(text: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def expressible(text: str) -> bool:
    """Whether a literal or tag can carry ``text``: the query parser mishandles control characters."""
    return not _CONTROLS.search(text)


def literal(text: str) -> str:
    """A quoted string for ``FILTER``/``APPLY`` expressions."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tag_parts(value: str, separator: str) -> list[str] | None:
    """The tags an index stores for ``value``; ``None`` when one holds a control character, which the query
    language cannot express (escaped or not)."""
    parts = [part.strip(_BLANKS) for part in value.split(separator) if part.strip(_BLANKS)]
    return parts if all(expressible(part) for part in parts) else None


def tag_exact(value: str, separator: str) -> bool:
    """Whether the index stores ``value`` as exactly one tag, unchanged, that a query can name."""
    return tag_parts(value, separator) == [value]


def tag_match(field: str, value: str, separator: str) -> str | None:
    """Documents whose ``field`` holds ``value`` (or a value the index splits alike); ``None``: no way to narrow."""
    parts = tag_parts(value, separator)
    if not parts:
        return None
    return "(" + " ".join(f"@{field}:{{{escape(part)}}}" for part in parts) + ")"


def user_match(user_id: str) -> str:
    """Documents of exactly this user, through the ``user_key`` tag (no value needs escaping)."""
    return f"@user_key:{{{documents.user_key(user_id)}}}"


def filter_query(flt: MemoryFilter, separator: str) -> tuple[str | None, bool]:
    """``(query, exact)``: a query over memdash's index that every matching record satisfies (``None``: no
    record can match); ``exact`` when it selects exactly the matching records (no metadata or text filter, no
    tag the index alters)."""
    clauses: list[str] = []
    exact = not flt.metadata and not flt.text_contains and flt.retrieved is None  # matches() refuses `retrieved`
    if flt.user_id is not None:
        if not flt.user_id.strip():  # a blank user id: no stored memory has one
            return None, True
        clauses.append(user_match(flt.user_id))
    for tag in flt.tags_all:
        exact &= tag_exact(tag, separator)
        clauses.append(tag_match("tags", tag, separator) or "")
    if flt.tags_any:
        exact &= all(tag_exact(tag, separator) for tag in flt.tags_any)
        alternatives = [tag_match("tags", tag, separator) for tag in flt.tags_any]
        if None not in alternatives:
            clauses.append("(" + " | ".join(a for a in alternatives if a) + ")")
    for field, lo, hi in (("created_at", flt.created_from, flt.created_to),
                          ("updated_at", flt.updated_from, flt.updated_to)):
        if lo is not None or hi is not None:
            low = to_micros(lo) if lo is not None else "-inf"
            high = to_micros(hi) if hi is not None else "+inf"
            clauses.append(f"@{field}:[{low} {high}]")
    return join(*clauses), exact


def window(sort: Sort, anchor: int, after: tuple[int, int] | None, width: int | None) -> str:
    """Rows within ``width`` sort units of ``anchor`` (unbounded when ``None``), in the sort's direction; with
    a keyset cursor ``after`` (whose value is ``anchor``), only the rows strictly after ``(value, seq)``."""
    field = sort.field.value
    if sort.descending:
        far = "-inf" if width is None else anchor - width
        if after is None:
            return f"@{field}:[{far} {anchor}]"
        return f"((@{field}:[{far} ({anchor}]) | (@{field}:[{anchor} {anchor}] @seq:[-inf ({after[1]}]))"
    far = "+inf" if width is None else anchor + width
    if after is None:
        return f"@{field}:[{anchor} {far}]"
    return f"((@{field}:[({anchor} {far}]) | (@{field}:[{anchor} {anchor}] @seq:[({after[1]} +inf]))"


def join(*clauses: str) -> str:
    """Clauses combined with AND; ``*`` (every document) when there are none."""
    kept = [c for c in clauses if c and c != "*"]
    return " ".join(kept) if kept else "*"


def words(query: str) -> list[str]:
    """Search terms as RediSearch's tokenizer cuts text (on ASCII punctuation and blanks), each as written and
    in lower case: the index folds ASCII case only, so "Émile" and "émile" are different terms to it."""
    found: dict[str, None] = {}
    for word in _WORD_SPLIT.split(query):
        if word:
            found[word] = found[word.lower()] = None
    return list(found)


def text_query(user_clause: str, terms: list[str]) -> str:
    """Any of ``terms`` in the memory, its conversation or its tags, for one user."""
    return f"{user_clause} @memory|context|tag_words:({'|'.join(escape(t) for t in terms)})"


def knn_query(user_clause: str | None, k: int) -> str:
    """The toolkit's query shape: pre-filter by user, then the ``k`` nearest vectors."""
    return f"{user_clause or '*'}=>[KNN {k} @embedding $vec AS vector_distance]"
