"""``memdash: {auth: {...}}``: how people sign in to the dashboard and the role each identity gets.

```yaml
memdash:
  auth:
    mode: oidc            # optional: oidc | local | "off"; default: oidc when .streamlit/secrets.toml has [auth],
                          # else local when users_file is set, else the dashboard refuses to open
    users_file: users.json          # local accounts (memdash user add), relative to this config file
    default_role: viewer            # signed-in OIDC identities not listed below; default none: refused
    roles:                          # OIDC identities, by email or sub
      alice@example.com: admin
      bob@example.com: {default: viewer, stores: {demo: editor}}
      carol@example.com: {default: none, stores: {support: viewer}}   # reads the support store only
```

No Streamlit here: :mod:`dashboard.auth` decides the mode and reads the identity of a session.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memory_core.access import Actor, Role
from memory_core.config import MemdashConfig, section_error

NO_AUTH_ENV = "MEMDASH_NO_AUTH"  # set by `memdash run --no-auth`: every visitor acts as admin
KEYS = ("mode", "users_file", "default_role", "roles")


class AuthMode(enum.StrEnum):
    OIDC = "oidc"
    LOCAL = "local"
    OFF = "off"


@dataclasses.dataclass(frozen=True)
class Grant:
    """An identity's role, and its roles on single stores."""

    role: Role
    stores: tuple[tuple[str, Role], ...] = ()


@dataclasses.dataclass(frozen=True)
class AuthSettings:
    mode: AuthMode | None = None
    users_file: Path | None = None
    default_role: Role | None = None
    roles: Mapping[str, Grant] = dataclasses.field(default_factory=dict)

    def oidc_actor(self, claims: Mapping[str, Any]) -> Actor | None:
        """The actor for an ID token's claims, or ``None`` when this identity has no role.

        ``sub`` is matched exactly, then ``email`` case-insensitively unless the token says ``email_verified:
        false``; an identity listed nowhere gets ``default_role``. The actor is named by its email, else its sub.
        """
        sub, email = str(claims.get("sub") or ""), str(claims.get("email") or "")
        if claims.get("email_verified") is False:
            email = ""
        grant = self.roles.get(sub) if sub else None
        if grant is None and email:
            grant = next((g for key, g in self.roles.items() if key.casefold() == email.casefold()), None)
        if grant is None and self.default_role is not None:
            grant = Grant(self.default_role)
        name = email or sub
        if grant is None or not name:
            return None
        return Actor(name=name, role=grant.role, store_roles=grant.stores)


def auth_settings(config: MemdashConfig | None) -> AuthSettings:
    """The config's ``memdash.auth`` section, checked (``ConfigError`` with file, line and field)."""
    section = (config.sections.get("memdash") or {}) if config else {}
    raw = section.get("auth") if isinstance(section, dict) else None
    if raw is None:
        return AuthSettings()
    assert config is not None
    if not isinstance(raw, dict):
        raise section_error(config, f"must be a mapping with {', '.join(KEYS)}", ("memdash", "auth"))
    unknown = sorted(str(k) for k in set(raw) - set(KEYS))
    if unknown:
        raise section_error(config, f"unknown key '{unknown[0]}'; allowed: {', '.join(KEYS)}",
                            ("memdash", "auth", unknown[0]))
    return AuthSettings(mode=_mode(config, raw.get("mode")), users_file=_users_file(config, raw.get("users_file")),
                        default_role=_role(config, raw.get("default_role"), ("default_role",), none_ok=True),
                        roles=_roles(config, raw.get("roles")))


def _mode(config: MemdashConfig, raw: Any) -> AuthMode | None:
    if raw is None:
        return None
    if raw is False:  # YAML 1.1 reads a bare `off` as false
        return AuthMode.OFF
    try:
        return AuthMode(str(raw).lower())
    except ValueError:
        raise section_error(config, f"must be oidc, local or \"off\", not {raw!r}", ("memdash", "auth", "mode")
                            ) from None


def _users_file(config: MemdashConfig, raw: Any) -> Path | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise section_error(config, "must be a file path", ("memdash", "auth", "users_file"))
    return config.base_dir / Path(raw).expanduser()


def _role(config: MemdashConfig, raw: Any, path: tuple[str, ...], *, none_ok: bool = False) -> Role | None:
    if raw is None or (none_ok and str(raw).lower() == "none"):
        return None
    try:
        return Role.parse(raw)
    except ValueError as exc:
        raise section_error(config, str(exc), ("memdash", "auth", *path)) from None


def _roles(config: MemdashConfig, raw: Any) -> dict[str, Grant]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise section_error(config, "must map identities (email or sub) to roles", ("memdash", "auth", "roles"))
    return {str(identity): _grant(config, str(identity), value) for identity, value in raw.items()}


def _grant(config: MemdashConfig, identity: str, raw: Any) -> Grant:
    path = ("roles", identity)
    if not isinstance(raw, dict):
        return Grant(_given(_role(config, raw, path)))
    unknown = sorted(str(k) for k in set(raw) - {"default", "stores"})
    if unknown:
        raise section_error(config, f"unknown key '{unknown[0]}'; allowed: default, stores",
                            ("memdash", "auth", *path, unknown[0]))
    stores = raw.get("stores") or {}
    if not isinstance(stores, dict):
        raise section_error(config, "must map store names to roles", ("memdash", "auth", *path, "stores"))
    role = _given(_role(config, raw.get("default"), (*path, "default")))
    return Grant(role, tuple((str(s), _given(_role(config, r, (*path, "stores", str(s))))) for s, r in stores.items()))


def _given(role: Role | None) -> Role:
    """A role left out is ``viewer``; ``none`` stays none (the store is not shown)."""
    return Role.VIEWER if role is None else role
