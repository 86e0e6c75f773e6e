"""Local dashboard accounts: a JSON file of users with salted argon2id password hashes and their roles.

```json
{"users": {"alice": {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$...", "role": "admin",
                     "stores": {"demo": "editor"}}}}
```

Written by ``memdash user add`` (atomically, mode 0600); read by the dashboard's local sign-in. No Streamlit here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from memory_core.access import Actor, Role
from memory_core.errors import ConfigError, InvalidInputError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
MIN_PASSWORD = 8
_HASHER = PasswordHasher()  # argon2id, 64 MiB, 3 passes: ~50 ms per check, a random salt per hash
_DUMMY_HASH = _HASHER.hash("memdash: a password nobody has")  # checked for unknown names, so they take as long


@dataclasses.dataclass(frozen=True)
class LocalUser:
    """One account: its name, password hash, role and per-store roles."""

    name: str
    password_hash: str
    role: Role
    stores: tuple[tuple[str, Role], ...] = ()

    @property
    def actor(self) -> Actor:
        return Actor(name=self.name, role=self.role, store_roles=self.stores)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the password does: a session signed in with an old password is signed out."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"password_hash": self.password_hash, "role": self.role.name.lower()}
        if self.stores:
            data["stores"] = {store: role.name.lower() for store, role in self.stores}
        return data


def load_users(path: Path) -> dict[str, LocalUser]:
    """The accounts in ``path`` (none when it does not exist); ``ConfigError`` naming the problem otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: not UTF-8, not JSON
        raise ConfigError(f"cannot read users file: {type(exc).__name__}: {exc}", file=str(path)) from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise ConfigError('users file must be a JSON object {"users": {NAME: {...}}}', file=str(path))
    return {name: user_from_json(str(path), name, entry) for name, entry in users.items()}


def user_from_json(where: str, name: str, entry: Any) -> LocalUser:
    """One account of a users file (or of the PostgreSQL state, ``where``); ``ConfigError`` naming it if wrong."""
    try:
        if not isinstance(entry, dict) or not isinstance(entry.get("password_hash"), str):
            raise ValueError("needs a password_hash and a role")
        stores = entry.get("stores") or {}
        if not isinstance(stores, dict):
            raise ValueError("stores must map store names to roles")
        return LocalUser(name=name, password_hash=entry["password_hash"], role=Role.parse(entry.get("role")),
                         stores=tuple((str(s), Role.parse(r)) for s, r in stores.items()))
    except ValueError as exc:
        raise ConfigError(f"user '{name}': {exc}", file=where, field=f"users.{name}") from None


def save_users(path: Path, users: Mapping[str, LocalUser]) -> None:
    """Write the accounts atomically (a temporary file renamed over ``path``), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"users": {name: users[name].to_json() for name in sorted(users)}}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_user(name: str, password: str, role: Role, stores: Mapping[str, Role] | None = None) -> LocalUser:
    """An account with a freshly salted hash; ``InvalidInputError`` for a bad name or a short password."""
    if not NAME.fullmatch(name):
        raise InvalidInputError(f"user name {name!r}: use 1-64 letters, digits and . _ @ + - (starting with a "
                                "letter or digit)")
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"the password must have at least {MIN_PASSWORD} characters")
    return LocalUser(name=name, password_hash=_HASHER.hash(password), role=role,
                     stores=tuple(sorted((stores or {}).items())))


def verify(users: Mapping[str, LocalUser], name: str, password: str) -> LocalUser | None:
    """The account when ``password`` is its password, else ``None``; unknown names cost a hash check too."""
    user = users.get(name)
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user
