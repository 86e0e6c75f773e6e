"""Who may do what: roles checked by the audited write path (:mod:`memory_core.audit.writer`) and the
dashboard's services, never by hidden buttons alone."""

from __future__ import annotations

import dataclasses
import enum
import getpass
import os

from memory_core.errors import MemdashError


class Role(enum.IntEnum):
    """Ordered: each role can do everything the ones below it can."""

    NONE = 0  # nothing: the store is not shown (a per-store role, or a default that per-store roles open up)
    VIEWER = 1  # read
    EDITOR = 2  # add, edit, delete, import
    ADMIN = 3  # bulk delete, all stores, config, users

    @classmethod
    def parse(cls, name: object) -> Role:
        """``viewer``, ``editor`` or ``admin`` (any case); ``ValueError`` naming the choices otherwise."""
        try:
            return cls[str(name).strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}; roles: {', '.join(r.name.lower() for r in cls)}") from None


class PermissionDenied(MemdashError):
    """The signed-in user's role does not allow this operation."""


@dataclasses.dataclass(frozen=True)
class Actor:
    """The person behind a request. ``store_roles`` overrides ``role`` per store name."""

    name: str
    role: Role
    store_roles: tuple[tuple[str, Role], ...] = ()

    def role_for(self, store: str) -> Role:
        return dict(self.store_roles).get(store, self.role)

    def require(self, role: Role, store: str, action: str) -> None:
        """Raise ``PermissionDenied`` unless this actor has at least ``role`` on ``store``."""
        self.require_read(store)
        have = self.role_for(store)
        if have < role:
            raise PermissionDenied(
                f"{self.name} is {_article(have)} on store '{store}' and may not {action} "
                f"(needs {role.name.lower()})"
            )

    @property
    def reads_every_store(self) -> bool:
        return min([self.role, *(role for _, role in self.store_roles)]) >= Role.VIEWER

    def can_read(self, store: str) -> bool:
        return self.role_for(store) >= Role.VIEWER

    def require_read(self, store: str) -> None:
        """Raise ``PermissionDenied`` unless this actor may read ``store`` (its role there is not ``none``)."""
        if not self.can_read(store):
            raise PermissionDenied(f"{self.name} may not read store '{store}'")

    def require_global(self, role: Role, action: str) -> None:
        """Raise ``PermissionDenied`` unless this actor's own role (not a per-store one) is at least ``role``."""
        if self.role < role:
            raise PermissionDenied(f"{self.name} is {_article(self.role)} and may not {action} "
                                   f"(needs {role.name.lower()})")


def _article(role: Role) -> str:
    name = role.name.lower()
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


LOCAL_ADMIN = Actor(name="local (auth off)", role=Role.ADMIN)


def cli_actor() -> Actor:
    """Whoever runs a ``memdash`` command (``cli:<os user>`` in the audit log): the files are theirs, so admin."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid {os.getuid()}"
    return Actor(name=f"cli:{name}", role=Role.ADMIN)
