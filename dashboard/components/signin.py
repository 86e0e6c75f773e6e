"""What every page shows around sign-in: the sign-in form or provider buttons, the page that refuses to open
without a way to sign in, the "sign-in is off" banner, and who is signed in (with Sign out)."""

from __future__ import annotations

import math

import streamlit as st

from dashboard import auth
from dashboard.text import escape_markdown
from memory_core.access import Actor, PermissionDenied
from memory_core.auth_settings import AuthMode
from memory_core.errors import MemdashError

HOW_TO = """Choose one, then reload this page (restart `memdash run` after changing `secrets.toml`):

1. **Local accounts**: `memdash user add NAME --role admin --users-file users.json` (asks for a password), and in
   the config: `memdash: {auth: {users_file: users.json}}` (relative to the config file).
2. **An OpenID Connect provider** (Keycloak, Okta, Entra ID, Google...): an `[auth]` section in
   `.streamlit/secrets.toml` with `redirect_uri`, `cookie_secret`, `client_id`, `client_secret` and
   `server_metadata_url`, and roles in `memdash: {auth: {roles: {...}}}`.
3. **No sign-in**, for a demo on a trusted machine only: `memdash run --no-auth` (or `MEMDASH_NO_AUTH=1`, or
   `memdash: {auth: {mode: "off"}}`). Every visitor then acts as admin.

See docs/security.md."""


def gate(access: auth.Access) -> Actor:
    """The actor of this session; until someone with a role signs in, shows the sign-in page and stops the run."""
    if access.mode is AuthMode.OFF and access.actor is not None:
        st.markdown(":orange-badge[:material/lock_open: Sign-in is off] every visitor acts as admin "
                    "(`--no-auth`, `MEMDASH_NO_AUTH=1` or `memdash.auth.mode: off`)")
        return access.actor
    if access.problem:
        _refusal(access.problem)
    elif access.actor is None and access.identity:
        _no_role(access.identity)
    elif access.actor is None:
        _oidc_sign_in() if access.mode is AuthMode.OIDC else _local_sign_in()
    if access.actor is None:
        st.stop()
    st.sidebar.caption(f"Signed in as {escape_markdown(access.actor.name)} · {access.actor.role.name.lower()}")
    if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        _sign_out()
    return access.actor


def _refusal(problem: str) -> None:
    st.title("memdash is not open", anchor=False)
    st.error(f"memdash does not open without sign-in: {escape_markdown(problem)}.", icon=":material/lock:")
    st.markdown(HOW_TO)


def _no_role(identity: str) -> None:
    st.title("No access", anchor=False)
    st.error(f"You are signed in as {escape_markdown(identity)}, but memdash gives this identity no role. An admin "
             "can list it under memdash.auth.roles in the config, or set memdash.auth.default_role.",
             icon=":material/block:")
    if st.button("Sign out", key="sign_out"):
        _sign_out()


def _oidc_sign_in() -> None:
    st.title("Sign in to memdash", anchor=False)
    for provider in auth.oidc_providers():
        label = "Sign in" if provider is None else f"Sign in with {escape_markdown(provider)}"
        if st.button(label, key=f"sign_in_{provider or 'oidc'}", type="primary", icon=":material/login:"):
            st.login(provider)


def _local_sign_in() -> None:
    st.title("Sign in to memdash", anchor=False)
    with st.form("sign_in_form", clear_on_submit=True):
        name = st.text_input("User name", key="sign_in_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    st.session_state.pop("sign_in_password", None)  # held nowhere once checked
    if not submitted:
        return
    try:
        wait = auth.sign_in_local(name.strip(), password)
    except PermissionDenied:
        st.error("Wrong user name or password.")
        return
    except MemdashError as exc:  # the accounts or the throttle's table cannot be read: said, nobody signed in
        st.error(str(exc))
        return
    if wait:
        st.error(f"Too many failed sign-ins for this name: try again in {math.ceil(wait)} s.")
        return
    st.rerun()


def _sign_out() -> None:
    if auth.sign_out():
        st.stop()  # the browser leaves for the provider's page: a rerun now could drop that redirect
    st.rerun()
