"""``PostgresAuditLog``: the audit log in a PostgreSQL schema, shared by every memdash process of a team.

The same tables as :mod:`memory_core.audit.sqlite` (``audit_entries``, ``audit_content``, ``audit_erasures``, the
``audit_log`` view), created under an advisory lock by the first process that opens the schema. Triggers refuse
any ``UPDATE``, ``DELETE`` or ``TRUNCATE`` of an entry (an ``INSERT ... ON CONFLICT DO UPDATE`` is an update, and
entry numbers come from an identity column ``GENERATED ALWAYS``), remove content only while an erasure of its
user is recorded as running, and keep erasure records. Triggers bind every role but the tables' owner, who could
drop them: run memdash as a role that owns nothing (:func:`grant_statements`, docs/deploy.md), so no memdash
process can rewrite the log whatever its bugs or its operators do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

from memory_core.audit.log import AuditEntry, AuditLog, AuditPage, AuditQuery, Erasure
from memory_core.audit.rows import (
    COLUMNS,
    ENTRY_COLUMNS,
    ERASURE_COLUMNS,
    NO_CURSOR,
    USER_CONTENT,
    added_counts,
    below,
    checked_limit,
    content_row,
    entry_row,
    micros,
    now,
    paged,
    to_entry,
    to_erasure,
    trash_sql,
    where_clause,
)
from memory_core.errors import AuditLogError, ConfigError, InvalidInputError, NotFoundError

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - the [postgres] extra is missing
    psycopg = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_INSERT_ENTRIES = (f"INSERT INTO audit_entries ({ENTRY_COLUMNS}) SELECT * FROM unnest(%s::bigint[], %s::text[], "
                   "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[]) RETURNING seq")
_INSERT_CONTENT = ("INSERT INTO audit_content (seq, before, after, note) SELECT * FROM unnest(%s::bigint[], "
                   "%s::text[], %s::text[], %s::text[])")
# {s} is the schema (checked against IDENTIFIER, quoted); the functions run with it as their search path.
_SIGN_IN_FAILURES = """
CREATE TABLE IF NOT EXISTS "{s}".sign_in_failures (  -- the local sign-in's throttle (dashboard), one window's worth
    key text NOT NULL,
    at  double precision NOT NULL  -- seconds since the epoch, by the clock of the process that counted it
);
CREATE INDEX IF NOT EXISTS sign_in_failures_key ON "{s}".sign_in_failures (key, at);
CREATE INDEX IF NOT EXISTS sign_in_failures_at ON "{s}".sign_in_failures (at)
"""
_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS "{s}";
CREATE TABLE "{s}".audit_entries (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_us     bigint NOT NULL,   -- microseconds since the epoch, UTC
    actor     text NOT NULL,
    operation text NOT NULL,
    store     text NOT NULL,
    user_id   text NOT NULL,
    memory_id text,
    batch     text,
    reverts   bigint REFERENCES "{s}".audit_entries (seq)
);
CREATE TABLE "{s}".audit_content (
    seq    bigint PRIMARY KEY REFERENCES "{s}".audit_entries (seq),
    before text,                 -- lossless record JSON, NULL when the memory did not exist
    after  text,
    note   text
);
CREATE TABLE "{s}".audit_erasures (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store       text NOT NULL,
    user_id     text,            -- while it runs (the content trigger needs it); NULL once finished
    user_key    text NOT NULL,
    actor       text NOT NULL,
    started_us  bigint NOT NULL,
    finished_us bigint,
    receipt     bigint REFERENCES "{s}".audit_entries (seq),
    counts      text NOT NULL DEFAULT '{{}}'
);
CREATE TABLE "{s}".audit_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE "{s}".accounts (    -- the dashboard's local accounts (dashboard.services.accounts), not audit entries
    name    text PRIMARY KEY,
    account text NOT NULL        -- JSON: password_hash (argon2id), role, stores
);
CREATE VIEW "{s}".audit_log AS
SELECT e.seq, e.at_us, e.actor, e.operation, e.store, e.user_id, e.memory_id, c.before, c.after, e.batch, e.reverts,
       c.note
FROM "{s}".audit_entries e LEFT JOIN "{s}".audit_content c ON c.seq = e.seq;
CREATE INDEX audit_store_seq ON "{s}".audit_entries (store, seq);
CREATE INDEX audit_memory ON "{s}".audit_entries (store, memory_id, seq);
CREATE INDEX audit_user ON "{s}".audit_entries (store, user_id, seq);
CREATE INDEX audit_batch ON "{s}".audit_entries (batch, seq) WHERE batch IS NOT NULL;
CREATE INDEX audit_reverts ON "{s}".audit_entries (reverts) WHERE reverts IS NOT NULL;
CREATE INDEX audit_actor ON "{s}".audit_entries (actor, seq);
CREATE INDEX audit_operation ON "{s}".audit_entries (store, operation, seq);
CREATE INDEX audit_removals ON "{s}".audit_content (seq) WHERE before IS NOT NULL AND after IS NULL;
CREATE UNIQUE INDEX audit_erasing ON "{s}".audit_erasures (store, user_id) WHERE finished_us IS NULL;
CREATE INDEX audit_erased ON "{s}".audit_erasures (store, user_key);
CREATE FUNCTION "{s}".audit_refuse() RETURNS trigger LANGUAGE plpgsql SET search_path = "{s}" AS $$
BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'insufficient_privilege'; END $$;
CREATE FUNCTION "{s}".audit_content_erased_only() RETURNS trigger LANGUAGE plpgsql SET search_path = "{s}" AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM audit_entries e JOIN audit_erasures x ON x.store = e.store AND x.user_id = e.user_id
                 WHERE e.seq = OLD.seq AND x.finished_us IS NULL) THEN
    RAISE EXCEPTION 'the audit log is append-only: content is removed only by an erasure of its user'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON "{s}".audit_entries FOR EACH ROW
EXECUTE FUNCTION "{s}".audit_refuse('the audit log is append-only: entries cannot be updated');
CREATE TRIGGER audit_no_delete BEFORE DELETE ON "{s}".audit_entries FOR EACH ROW
EXECUTE FUNCTION "{s}".audit_refuse('the audit log is append-only: entries cannot be deleted');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON "{s}".audit_entries FOR EACH STATEMENT
EXECUTE FUNCTION "{s}".audit_refuse('the audit log is append-only: entries cannot be truncated');
CREATE TRIGGER audit_content_no_update BEFORE UPDATE ON "{s}".audit_content FOR EACH ROW
EXECUTE FUNCTION "{s}".audit_refuse('the audit log is append-only: content cannot be updated');
CREATE TRIGGER audit_content_no_truncate BEFORE TRUNCATE ON "{s}".audit_content FOR EACH STATEMENT
EXECUTE FUNCTION "{s}".audit_refuse('the audit log is append-only: content cannot be truncated');
CREATE TRIGGER audit_content_erased_only BEFORE DELETE ON "{s}".audit_content FOR EACH ROW
EXECUTE FUNCTION "{s}".audit_content_erased_only();
CREATE TRIGGER audit_erasures_kept BEFORE DELETE ON "{s}".audit_erasures FOR EACH ROW
EXECUTE FUNCTION "{s}".audit_refuse('erasure records are kept');
CREATE TRIGGER audit_erasures_not_truncated BEFORE TRUNCATE ON "{s}".audit_erasures FOR EACH STATEMENT
EXECUTE FUNCTION "{s}".audit_refuse('erasure records are kept');
CREATE TRIGGER audit_erasures_finished BEFORE UPDATE ON "{s}".audit_erasures FOR EACH ROW
WHEN (OLD.finished_us IS NOT NULL)
EXECUTE FUNCTION "{s}".audit_refuse('a finished erasure cannot be changed');
CREATE TRIGGER audit_meta_kept BEFORE UPDATE OR DELETE ON "{s}".audit_meta FOR EACH ROW
EXECUTE FUNCTION "{s}".audit_refuse('the audit log''s settings are kept');
CREATE TRIGGER audit_meta_not_truncated BEFORE TRUNCATE ON "{s}".audit_meta FOR EACH STATEMENT
EXECUTE FUNCTION "{s}".audit_refuse('the audit log''s settings are kept')
"""
_GRANTS = """
GRANT USAGE ON SCHEMA "{s}" TO "{r}";
GRANT SELECT, INSERT ON "{s}".audit_entries, "{s}".audit_content, "{s}".audit_erasures, "{s}".audit_meta TO "{r}";
GRANT SELECT ON "{s}".audit_log TO "{r}";
GRANT DELETE ON "{s}".audit_content TO "{r}";
GRANT UPDATE (user_id, finished_us, receipt, counts) ON "{s}".audit_erasures TO "{r}";
GRANT SELECT, INSERT, UPDATE, DELETE ON "{s}".accounts TO "{r}";
GRANT SELECT, INSERT, DELETE ON "{s}".sign_in_failures TO "{r}"
"""


def grant_statements(schema: str, role: str, *, maintain: bool = False) -> list[str]:
    """What a role that owns nothing needs to run memdash on an existing state: read and append entries, remove
    content during a recorded erasure (the trigger still checks), update a running erasure, manage accounts,
    count failed sign-ins; with ``maintain`` (PostgreSQL 17+), ``VACUUM FULL`` the content table, so an erasure
    leaves nothing in its files."""
    statements = _GRANTS + (';\nGRANT MAINTAIN ON "{s}".audit_content TO "{r}"' if maintain else "")
    return [part.strip() for part in statements.format(s=_identifier(schema), r=role.replace('"', '""')).split(";\n")]


class PostgresAuditLog(AuditLog):
    """A small pool of connections whose search path is the log's schema; every append is one transaction."""

    def __init__(self, conninfo: str, *, schema: str = "memdash_state", connect_timeout: float = 10.0,
                 max_connections: int = 4) -> None:
        if psycopg is None:
            raise AuditLogError("the postgres state needs psycopg: pip install 'memdash[postgres]'")
        self.schema = _identifier(schema)
        self._conninfo = conninfo
        self.where = describe(conninfo, self.schema)
        kwargs = {"autocommit": True, "connect_timeout": max(1, round(connect_timeout)),
                  "application_name": "memdash-audit",  # custom plans: a generic one scanned the whole log
                  "options": f"-c search_path={self.schema} -c plan_cache_mode=force_custom_plan"}
        self._pool = ConnectionPool(conninfo, kwargs=kwargs, min_size=1, max_size=max_connections, open=False,
                                    check=ConnectionPool.check_connection, timeout=connect_timeout,
                                    name="memdash-audit")
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
            self._secret = self._setup()
        except (psycopg.Error, AuditLogError, OSError) as exc:
            self._pool.close()
            if isinstance(exc, AuditLogError):
                raise
            raise AuditLogError(f"cannot open the audit log at {self.where}: {self._scrub(exc)}") from None

    def _setup(self) -> bytes:
        with self._pool.connection() as conn:
            if self._version(conn) != SCHEMA_VERSION:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"memdash-audit:{self.schema}",))
                    found = self._version(conn)
                    if found is not None and found > SCHEMA_VERSION:
                        raise AuditLogError(f"the audit log at {self.where} has schema version {found}, newer than "
                                            f"this memdash reads ({SCHEMA_VERSION}); upgrade memdash")
                    if found is None:
                        conn.execute(_SCHEMA.format(s=self.schema))  # no parameters: one multi-statement query
                        conn.execute("INSERT INTO audit_meta (key, value) VALUES ('schema_version', %s), "
                                     "('user_key_secret', %s)", (str(SCHEMA_VERSION), secrets.token_hex(32)))
            self._add_sign_in_failures(conn)
            row = conn.execute("SELECT value FROM audit_meta WHERE key = 'user_key_secret'").fetchone()
        return bytes.fromhex(row[0])

    def _add_sign_in_failures(self, conn: Any) -> None:
        """The sign-in throttle's table, in a state made before it, when this role may create it (the owner's
        ``memdash state init`` does; a role that owns nothing leaves it to the owner)."""
        missing = conn.execute("SELECT to_regclass(%s) IS NULL AND has_schema_privilege(%s, 'CREATE')",
                               (f'"{self.schema}".sign_in_failures', self.schema)).fetchone()[0]
        if missing:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"memdash-audit:{self.schema}",))
                conn.execute(_SIGN_IN_FAILURES.format(s=self.schema))

    def _version(self, conn: Any) -> int | None:
        """The schema's version, ``None`` when the log's tables do not exist yet."""
        exists = ("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                  "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'audit_meta')")
        if not conn.execute(exists, (self.schema,)).fetchone()[0]:  # an MVCC read: sees a table created meanwhile
            return None
        row = conn.execute("SELECT value FROM audit_meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else None

    # --- entries --------------------------------------------------------------------------------------------
    def append(self, entries: Sequence[AuditEntry]) -> list[int]:
        if not entries:
            return []
        with self._transaction("write to") as conn:
            return self._insert(conn, entries)

    def _insert(self, conn: Any, entries: Sequence[AuditEntry]) -> list[int]:
        """Insert entries and their content inside the caller's transaction, one statement each; their numbers in
        order. The identity column numbers the rows in the order ``unnest`` yields them (the entries' order), so
        the numbers sorted are the entries' even when another process appends at the same moment."""
        columns = [list(column) for column in zip(*(entry_row(entry) for entry in entries), strict=True)]
        seqs = sorted(row[0] for row in conn.execute(_INSERT_ENTRIES, columns).fetchall())
        content = [(seq, *content_row(entry)) for seq, entry in zip(seqs, entries, strict=True)]
        rows = [row for row in content if any(value is not None for value in row[1:])]
        if rows:
            conn.execute(_INSERT_CONTENT, [list(column) for column in zip(*rows, strict=True)])
        return seqs

    def get(self, seq: int) -> AuditEntry:
        if not 0 < seq < NO_CURSOR:
            raise NotFoundError(f"no audit entry number {seq}")
        rows = self._query("read", f"SELECT {COLUMNS} FROM audit_log WHERE seq = ?", (seq,))
        if not rows:
            raise NotFoundError(f"no audit entry number {seq}")
        return to_entry(rows[0])

    def page(self, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        where, params = where_clause(query)
        sql = f"SELECT {COLUMNS} FROM audit_log WHERE {where} AND seq < ? ORDER BY seq DESC LIMIT ?"
        rows = self._query("read", sql, (*params, below(cursor), checked_limit(limit) + 1))
        return paged([to_entry(row) for row in rows], limit)

    def count(self, query: AuditQuery) -> int:
        where, params = where_clause(query)
        return self._query("read", f"SELECT count(*) FROM audit_entries WHERE {where}", params)[0][0]

    def entries(self, query: AuditQuery) -> Iterator[AuditEntry]:
        where, params = where_clause(query)
        after = 0
        while True:
            sql = f"SELECT {COLUMNS} FROM audit_log WHERE {where} AND seq > ? ORDER BY seq LIMIT 500"
            rows = self._query("read", sql, (*params, after))
            yield from (to_entry(row) for row in rows)
            if len(rows) < 500:
                return
            after = rows[-1][0]

    def reverted_by(self, seqs: Sequence[int]) -> dict[int, int]:
        if not seqs:
            return {}
        rows = self._query("read", "SELECT reverts, max(seq) FROM audit_entries WHERE reverts = ANY(?) "
                                   "GROUP BY reverts", (list(seqs),))
        return dict(rows)

    def trash(self, store: str, *, since: dt.datetime, user_id: str | None = None, limit: int = 50,
              cursor: str | None = None) -> AuditPage:
        params = (store, micros(since), *([user_id] if user_id is not None else []), below(cursor),
                  checked_limit(limit) + 1)
        rows = self._query("read", trash_sql(user_id), params)
        return paged([to_entry(row) for row in rows], limit)

    # --- erasure ------------------------------------------------------------------------------------------
    def user_key(self, store: str, user_id: str) -> str:
        return hmac.new(self._secret, f"{store}\0{user_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def content_counts(self, store: str, user_id: str) -> dict[str, int]:
        with self._transaction("read") as conn:
            return _content_counts(conn, store, user_id)

    def erasures(self, store: str, user_id: str) -> list[Erasure]:
        sql = (f"SELECT {ERASURE_COLUMNS} FROM audit_erasures WHERE store = ? AND (user_key = ? OR "
               "(user_id = ? AND finished_us IS NULL)) ORDER BY id")
        return [to_erasure(row) for row in self._query("read", sql, (store, self.user_key(store, user_id),
                                                                     user_id))]

    def start_erasure(self, store: str, user_id: str, actor: str) -> Erasure:
        if not user_id:
            raise InvalidInputError("a user id is needed")
        with self._transaction("write to") as conn:
            conn.execute("INSERT INTO audit_erasures (store, user_id, user_key, actor, started_us) "
                         "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (store, user_id) WHERE finished_us IS NULL "
                         "DO NOTHING", (store, user_id, self.user_key(store, user_id), actor, micros(now())))
            row = conn.execute(f"SELECT {ERASURE_COLUMNS} FROM audit_erasures WHERE store = %s AND user_id = %s "
                               "AND finished_us IS NULL", (store, user_id)).fetchone()
        return to_erasure(row)

    def erase_content(self, erasure: Erasure, user_id: str) -> dict[str, int]:
        with self._transaction("erase content in") as conn:
            _running(conn, erasure, user_id)
            counts = _content_counts(conn, erasure.store, user_id)
            conn.execute(_pg(f"DELETE FROM audit_content WHERE seq IN (SELECT e.seq {USER_CONTENT})"),
                         (erasure.store, user_id))
            _add_counts(conn, erasure, counts)
        return counts

    def add_erasure_counts(self, erasure: Erasure, counts: dict[str, int]) -> None:
        with self._transaction("write to") as conn:
            _add_counts(conn, erasure, counts)

    def finish_erasure(self, erasure: Erasure, receipt: AuditEntry) -> int:
        with self._transaction("write to") as conn:
            [seq] = self._insert(conn, [receipt])
            conn.execute("UPDATE audit_erasures SET user_id = NULL, finished_us = %s, receipt = %s WHERE id = %s",
                         (micros(receipt.at), seq, erasure.id))
        return seq

    def compact(self) -> None:
        """Rewrite the content table so erased content is in no live file of the database (``VACUUM FULL``: its
        owner, or a role granted MAINTAIN on PostgreSQL 17+). WAL archives and base backups keep what they hold."""
        skipped: list[str] = []
        with self._failures("compact"), self._pool.connection() as conn:
            conn.add_notice_handler(lambda notice: skipped.append(notice.message_primary or ""))
            conn.execute("VACUUM FULL audit_content")
        if any("skipping" in message for message in skipped):
            raise AuditLogError(f"the audit log at {self.where} could not be compacted: only the owner of "
                                f"{self.schema}.audit_content, or a role granted MAINTAIN on it (PostgreSQL 17+), may "
                                "VACUUM FULL it; the erasure resumes when run again by such a role")

    def grant(self, role: str) -> None:
        """Give ``role`` what the dashboard needs and nothing more (:func:`grant_statements`); run as the owner."""
        with self._transaction("grant access to") as conn:
            maintain = conn.info.server_version >= 170000  # the MAINTAIN privilege came with PostgreSQL 17
            for statement in grant_statements(self.schema, role, maintain=maintain):
                conn.execute(statement)

    def close(self) -> None:
        self._pool.close()

    # --- helpers ------------------------------------------------------------------------------------------
    def _query(self, action: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._failures(action), self._pool.connection() as conn:
            return conn.execute(_pg(sql), params).fetchall()

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[Any]:
        with self._failures(action), self._pool.connection() as conn, conn.transaction():
            yield conn

    @contextlib.contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        """psycopg and pool errors as ``AuditLogError`` naming the log, the password masked."""
        try:
            yield
        except (psycopg.Error, OSError) as exc:
            raise AuditLogError(f"cannot {action} the audit log at {self.where}: {self._scrub(exc)}") from None

    def _scrub(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        secret = _params(self._conninfo).get("password")
        return text.replace(str(secret), "***") if secret else text


def conninfo(dsn: str, password: str | None) -> str:
    """The DSN (URI or ``key=value``) with ``password`` merged in when given; ``ConfigError`` when invalid."""
    if psycopg is None:
        raise ConfigError("the postgres state needs psycopg: pip install 'memdash[postgres]'", field="dsn")
    try:
        return make_conninfo(dsn, **({"password": password} if password else {}))
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"not a valid PostgreSQL connection string: {exc}", field="dsn") from None


def describe(info: str, schema: str) -> str:
    """``postgresql user@host:port/dbname (schema S)``, for messages; never the password."""
    return f"{_target(info)} (schema {schema})"


def _identifier(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise InvalidInputError(f"schema {name!r}: use lower-case letters, digits and _ (at most 63)")
    return name


def _params(info: str) -> dict[str, Any]:
    try:
        return conninfo_to_dict(info)
    except psycopg.Error:
        return {}


def _target(info: str) -> str:
    """``user@host:port/dbname``, for messages; never the password."""
    params = _params(info)
    host = params.get("host") or params.get("hostaddr") or "localhost"
    where = f"{host}:{params['port']}" if params.get("port") else str(host)
    user = f"{params['user']}@" if params.get("user") else ""
    return f"postgresql {user}{where}/{params.get('dbname') or params.get('user') or 'postgres'}"


def _pg(sql: str) -> str:
    """The shared SQL (``?`` marks) for psycopg (``%s``)."""
    return sql.replace("?", "%s")


def _content_counts(conn: Any, store: str, user_id: str) -> dict[str, int]:
    counts = dict(conn.execute(_pg(f"SELECT e.operation, count(*) {USER_CONTENT} GROUP BY e.operation"),
                               (store, user_id)).fetchall())
    removals = conn.execute(_pg(f"SELECT count(*) {USER_CONTENT} AND c.before IS NOT NULL AND c.after IS NULL"),
                            (store, user_id)).fetchone()[0]
    return counts | ({"removal": removals} if removals else {})


def _running(conn: Any, erasure: Erasure, user_id: str | None = None) -> None:
    row = conn.execute("SELECT user_id FROM audit_erasures WHERE id = %s AND finished_us IS NULL",
                       (erasure.id,)).fetchone()
    if row is None or (user_id is not None and row[0] != user_id):
        raise InvalidInputError(f"erasure {erasure.id} is not a running erasure of this user")


def _add_counts(conn: Any, erasure: Erasure, counts: dict[str, int]) -> None:
    _running(conn, erasure)
    raw = conn.execute("SELECT counts FROM audit_erasures WHERE id = %s FOR UPDATE", (erasure.id,)).fetchone()[0]
    conn.execute("UPDATE audit_erasures SET counts = %s WHERE id = %s", (added_counts(raw, counts), erasure.id))
