"""Who is using this session: the sign-in mode, the signed-in identity and its role.

The mode comes from the config memdash was started with (``MEMDASH_CONFIG``), never from a config a session
opens later: ``off`` when asked explicitly (``memdash run --no-auth`` / ``MEMDASH_NO_AUTH=1`` /
``memdash.auth.mode: "off"``), else ``oidc`` when ``.streamlit/secrets.toml`` has an ``[auth]`` section, else
``local`` when ``memdash.auth.users_file`` is set or the state is in PostgreSQL (its accounts), else none: the
dashboard refuses to open.

- oidc: Streamlit's ``st.login``; the identity is ``st.user`` (Streamlit's signed HttpOnly cookie).
- local: a password form; the signed-in name lives in ``st.session_state``, on the server, for this browser
  tab's session only (never in a cookie or anywhere page scripts can read it): a reload signs in again.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.services.accounts import PostgresAccounts, state_accounts
from dashboard.services.sign_in_throttle import LoginThrottle, shared_throttle
from dashboard.services.users_file import LocalUser, load_users, verify
from memory_core.access import LOCAL_ADMIN, Actor, PermissionDenied
from memory_core.audit.settings import PostgresState, postgres_state
from memory_core.auth_settings import NO_AUTH_ENV, AuthMode, AuthSettings, auth_settings
from memory_core.config import CONFIG_ENV, load_config
from memory_core.errors import ConfigError, MemdashError

PASSWORD_CHECKS = threading.BoundedSemaphore(2)  # each Argon2 check holds 64 MiB: two at a time, whatever comes
CHECK_WAIT_S = 10.0  # how long a sign-in waits for its turn before it is asked to try again
SESSION_KEY = "_memdash_signed_in"  # (user name, password fingerprint) of a local sign-in


@dataclasses.dataclass(frozen=True)
class Access:
    """A session's mode and actor. ``actor`` is ``None`` until someone with a role signs in; ``identity`` names
    a signed-in person (who may have no role); ``problem`` says why nobody can sign in at all."""

    mode: AuthMode | None
    actor: Actor | None = None
    identity: str | None = None
    problem: str | None = None


def no_auth_requested() -> bool:
    return os.environ.get(NO_AUTH_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def startup_settings() -> AuthSettings:
    """``memdash.auth`` of the config memdash was started with, read again when the file changes."""
    path = os.environ.get(CONFIG_ENV)
    return _settings_of(path, _mtime(path)) if path else AuthSettings()


@functools.lru_cache(maxsize=4)
def _settings_of(path: str, mtime: int) -> AuthSettings:
    return auth_settings(load_config(path))


def startup_state_accounts() -> PostgresAccounts | None:
    """The accounts in the PostgreSQL state of the config memdash was started with (``None``: no such state)."""
    path = os.environ.get(CONFIG_ENV)
    state = _state_of(path, _mtime(path)) if path else None
    return state_accounts(state) if state is not None else None


@functools.lru_cache(maxsize=4)
def _state_of(path: str, mtime: int) -> Any:
    return postgres_state(load_config(path))


def startup_users(settings: AuthSettings) -> dict[str, LocalUser]:
    """The local accounts: the users file (read again when it changes), else the PostgreSQL state's (read on each
    call: another process may have changed them)."""
    if settings.users_file is not None:
        return local_users(settings.users_file)
    accounts = startup_state_accounts()
    return accounts.load() if accounts else {}


@functools.lru_cache(maxsize=4)
def _users_of(path: Path, mtime: int) -> dict[str, LocalUser]:
    return load_users(path)


def local_users(path: Path) -> dict[str, LocalUser]:
    """The accounts of a users file, read again when it changes."""
    return _users_of(path, _mtime(path))


def _mtime(path: str | Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def oidc_secrets() -> Mapping[str, Any]:
    """The ``[auth]`` section of Streamlit's secrets (empty when there is none)."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # no secrets.toml at all
        return {}
    return section if isinstance(section, Mapping) else {}


def oidc_providers() -> list[str | None]:
    """``st.login`` arguments: ``None`` for ``[auth]``'s own provider, the names of ``[auth.NAME]`` sections."""
    section = oidc_secrets()
    named = [str(name) for name, value in section.items() if isinstance(value, Mapping) and "client_id" in value]
    return ([None] if "client_id" in section else []) + named


def access() -> Access:
    """This session's mode and actor, worked out afresh on every call (roles and accounts may have changed)."""
    if no_auth_requested():
        return Access(AuthMode.OFF, LOCAL_ADMIN)
    try:
        settings = startup_settings()
        local = settings.users_file is not None or startup_state_accounts() is not None
    except ConfigError as exc:
        return Access(None, problem=f"the config memdash was started with is wrong: {exc}")
    mode = settings.mode or (AuthMode.OIDC if oidc_secrets() else AuthMode.LOCAL if local else None)
    if mode is AuthMode.OFF:
        return Access(mode, LOCAL_ADMIN)
    if mode is AuthMode.OIDC:
        return _oidc_access(settings)
    if mode is AuthMode.LOCAL:
        return _local_access(settings)
    return Access(None, problem="no sign-in is configured")


def _oidc_access(settings: AuthSettings) -> Access:
    if not oidc_providers():
        return Access(AuthMode.OIDC, problem="mode oidc needs an [auth] section with a provider (client_id, "
                                             "client_secret, server_metadata_url) in .streamlit/secrets.toml")
    claims = st.user.to_dict()
    if not claims.get("is_logged_in"):
        return Access(AuthMode.OIDC)
    email, sub = str(claims.get("email") or ""), str(claims.get("sub") or "")
    identity = f"{email} (sub {sub})" if email and sub else email or sub  # what memdash.auth.roles may name
    return Access(AuthMode.OIDC, settings.oidc_actor(claims), identity=identity)


def _local_access(settings: AuthSettings) -> Access:
    state = startup_state_accounts() if settings.users_file is None else None
    if settings.users_file is None and state is None:
        return Access(AuthMode.LOCAL, problem="mode local needs memdash.auth.users_file (or a PostgreSQL "
                                              "memdash.state) in the config")
    try:
        users = startup_users(settings)
    except MemdashError as exc:
        return Access(AuthMode.LOCAL, problem=str(exc))
    if not users:
        where = f"the users file {settings.users_file}" if state is None else f"the PostgreSQL state {state.where}"
        return Access(AuthMode.LOCAL, problem=f"{where} has no users yet")
    name, fingerprint = st.session_state.get(SESSION_KEY) or (None, None)
    user = users.get(name) if name else None
    if user is None or user.fingerprint != fingerprint:  # removed, or its password changed since
        return Access(AuthMode.LOCAL)
    return Access(AuthMode.LOCAL, user.actor, identity=user.name)


def current_actor() -> Actor:
    """The signed-in actor; ``PermissionDenied`` when nobody with a role is signed in (e.g. signed out since)."""
    actor = access().actor
    if actor is None:
        raise PermissionDenied("nobody with a role is signed in to this session: sign in again")
    return actor


def client_address() -> str:
    """The browser's address as the server sees it (a proxy's, behind one): what the throttle counts per client."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "unknown"


def sign_in_local(name: str, password: str) -> float:
    """Check a local password and sign this session in; returns 0, or the seconds to wait after repeated failures.

    Raises ``PermissionDenied`` for a wrong name or password (the message does not say which)."""
    settings = startup_settings()
    client = client_address()
    wait = throttle().wait(name, client)
    if wait:
        return wait
    if not PASSWORD_CHECKS.acquire(timeout=CHECK_WAIT_S):
        raise PermissionDenied("too many sign-ins at this moment: try again in a few seconds")
    try:
        user = verify(startup_users(settings), name, password)
    finally:
        PASSWORD_CHECKS.release()
    if user is None:
        throttle().failed(name, client)
        raise PermissionDenied("wrong user name or password")
    throttle().succeeded(name, client)
    st.session_state[SESSION_KEY] = (user.name, user.fingerprint)
    return 0.0


def sign_out() -> bool:
    """Forget everything this session held (its identity, open dialogs, forms); OIDC also ends Streamlit's login.
    Returns whether the browser is being sent to the provider's sign-out page."""
    oidc = access().mode is AuthMode.OIDC
    st.session_state.clear()
    if oidc:
        st.logout()
    return oidc


def throttle() -> LoginThrottle:
    """The sign-in throttle: in the PostgreSQL state when memdash runs on one (every process counts together),
    else this process's."""
    path = os.environ.get(CONFIG_ENV)
    return _throttle_of(_state_of(path, _mtime(path)) if path else None)


@st.cache_resource(show_spinner=False)
def _throttle_of(state: PostgresState | None) -> LoginThrottle:
    return shared_throttle(state) if state is not None else LoginThrottle()
