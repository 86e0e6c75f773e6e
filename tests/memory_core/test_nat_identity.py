"""Who a toolkit user id is: memdash derives the ids the installed toolkit gives its users (JWT claims, API keys,
basic auth), checked against ``nat.data_models.user_info.UserInfo`` itself; the Users and Browse pages resolve an
identity typed as the operator knows it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from tests.helpers.dashboard import messages, ok, texts
from tests.helpers.toolkit import require_toolkit

require_toolkit()

from nat.data_models.user_info import BasicUserInfo, JwtUserInfo, UserInfo  # noqa: E402

from memory_core import identity  # noqa: E402

key = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(str.strip)


@settings(max_examples=200)
@given(key)
def test_jwt_claims_and_api_keys_give_the_toolkits_ids(value: str) -> None:
    ids = [derived.user_id for derived in identity.readings(value)]
    for jwt in (JwtUserInfo(subject=value), JwtUserInfo(email=value), JwtUserInfo(preferred_username=value)):
        assert UserInfo._from_jwt(jwt).get_user_id() in ids
    assert UserInfo(api_key=SecretStr(value)).get_user_id() in ids
    assert len(ids) == 1 + (value != value.strip()) + (":" in value)  # one reading per distinct derivation


@settings(max_examples=100)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=":"), min_size=1, max_size=20),
       key)
def test_basic_auth_gives_the_toolkits_id(username: str, password: str) -> None:
    typed = f"{username}:{password}"
    expected = UserInfo(basic_user=BasicUserInfo(username=username, password=password)).get_user_id()
    assert expected in [derived.user_id for derived in identity.readings(typed)]


@pytest.fixture
def jane(dash):
    jane_id = identity.toolkit_user_id("jane@example.com")
    dash.add(user=jane_id, memory="Jane prefers e-mail over phone calls")
    return dash, jane_id


def test_the_users_page_finds_a_toolkit_user_by_e_mail(jane) -> None:
    dash, jane_id = jane
    at = ok(dash.app("users").run())
    at.text_input(key="users_identity").input("jane@example.com").run()
    assert f"As an e-mail, sub, username (JWT) or API key: user {jane_id} · 1 memory" in texts(ok(at))
    assert ("browse", f"store=main&user={jane_id}") in [(link.proto.page, link.proto.query_string)
                                                         for link in at.page_link]


def test_browse_by_e_mail_points_to_the_toolkit_user(jane) -> None:
    dash, jane_id = jane
    at = ok(dash.app("browse", user="jane@example.com").run())
    assert messages(at, "info")[0].startswith("User 'jane@example.com' has no memories")
    [link] = [link for link in at.page_link if link.proto.query_string == f"store=main&user={jane_id}"]
    assert f"this is toolkit user {jane_id}, who has 1 memory" in link.proto.label.replace("\\", "")
