"""Where the dashboard's local accounts live: the users file (``memdash.auth.users_file``, one process) or the
PostgreSQL state (``memdash.state: {_type: postgres}``, shared by every process of a team). Both hold the same
:class:`~dashboard.services.users_file.LocalUser` (argon2id hash, role, per-store roles); ``memdash user`` writes
them, the local sign-in reads them. No Streamlit here."""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from dashboard.services.users_file import LocalUser, load_users, save_users, user_from_json
from memory_core.audit.postgres import PostgresAuditLog, describe
from memory_core.audit.settings import PostgresState, postgres_state
from memory_core.auth_settings import auth_settings
from memory_core.config import MemdashConfig
from memory_core.errors import ConfigError, InvalidInputError, MemdashError, NotFoundError

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


class Accounts(ABC):
    """The local accounts of a config."""

    where: str  # for messages: the file, or the server and schema

    @abstractmethod
    def load(self) -> dict[str, LocalUser]:
        """Every account by name; ``ConfigError`` naming the place when one cannot be read."""

    @abstractmethod
    def put(self, user: LocalUser, *, replace: bool = False) -> None:
        """Add ``user``; an existing name is replaced only with ``replace`` (else ``InvalidInputError``)."""

    @abstractmethod
    def remove(self, name: str) -> None:
        """Remove an account; ``NotFoundError`` when there is none by that name."""


class FileAccounts(Accounts):
    """The users file (written whole, atomically, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path, self.where = path, str(path)

    def load(self) -> dict[str, LocalUser]:
        return load_users(self.path)

    def put(self, user: LocalUser, *, replace: bool = False) -> None:
        users = load_users(self.path)
        if user.name in users and not replace:
            raise InvalidInputError(f"user '{user.name}' exists in {self.where}; pass --replace to change it")
        save_users(self.path, {**users, user.name: user})

    def remove(self, name: str) -> None:
        users = load_users(self.path)
        if users.pop(name, None) is None:
            raise NotFoundError(f"no user '{name}' in {self.where}")
        save_users(self.path, users)


def state_pool(state: PostgresState, name: str) -> ConnectionPool:
    """A small autocommit pool on the PostgreSQL state's schema, for the dashboard's own tables there."""
    from psycopg_pool import ConnectionPool  # the [postgres] extra, only when the state is there

    return ConnectionPool(state.conninfo, min_size=0, max_size=2, open=True, timeout=state.connect_timeout,
                          kwargs={"autocommit": True, "application_name": name,
                                  "options": f"-c search_path={state.schema}"},
                          check=ConnectionPool.check_connection, name=name)


class PostgresAccounts(Accounts):
    """The ``accounts`` table of the PostgreSQL state (created with the audit log's tables); each change is one
    statement, so two processes adding the same name at once cannot both succeed."""

    def __init__(self, state: PostgresState) -> None:
        self.where, self._state = describe(state.conninfo, state.schema), state
        self._pool = state_pool(state, "memdash-accounts")

    def load(self) -> dict[str, LocalUser]:
        rows = self._run("read", "SELECT name, account FROM accounts ORDER BY name")
        return {name: self._user(name, account) for name, account in rows}

    def put(self, user: LocalUser, *, replace: bool = False) -> None:
        account = json.dumps(user.to_json(), sort_keys=True)
        if replace:
            self._run("write", "INSERT INTO accounts (name, account) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                               "SET account = EXCLUDED.account RETURNING name", (user.name, account))
        elif not self._run("write", "INSERT INTO accounts (name, account) VALUES (%s, %s) ON CONFLICT (name) "
                                    "DO NOTHING RETURNING name", (user.name, account)):
            raise InvalidInputError(f"user '{user.name}' exists in {self.where}; pass --replace to change it")

    def remove(self, name: str) -> None:
        if not self._run("write", "DELETE FROM accounts WHERE name = %s RETURNING name", (name,)):
            raise NotFoundError(f"no user '{name}' in {self.where}")

    def _execute(self, sql: str, params: tuple[str, ...]) -> list[tuple[str, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _user(self, name: str, account: str) -> LocalUser:
        try:
            return user_from_json(self.where, name, json.loads(account))
        except ValueError as exc:
            raise ConfigError(f"user '{name}': {exc}", file=self.where, field=f"users.{name}") from None

    def _run(self, action: str, sql: str, params: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        import psycopg

        try:
            try:
                return self._execute(sql, params)
            except psycopg.errors.UndefinedTable:  # a state nothing opened yet: create it, as its audit log does
                PostgresAuditLog(self._state.conninfo, schema=self._state.schema,
                                 connect_timeout=self._state.connect_timeout).close()
                return self._execute(sql, params)
        except (psycopg.Error, OSError) as exc:
            reason = " ".join(str(exc).split())
            raise MemdashError(f"cannot {action} the accounts at {self.where}: {reason}") from None


def accounts_of(config: MemdashConfig) -> Accounts | None:
    """The config's accounts: its users file, else its PostgreSQL state; ``None`` when it names neither."""
    users_file = auth_settings(config).users_file
    if users_file is not None:
        return FileAccounts(users_file)
    state = postgres_state(config)
    return state_accounts(state) if state is not None else None


@functools.lru_cache(maxsize=4)
def state_accounts(state: PostgresState) -> PostgresAccounts:
    """One pool per state and process (the sign-in reads the accounts on every run of a page)."""
    return PostgresAccounts(state)
