"""Users: counts and last activity per user, prefix search, keyset paging, links to the user's memories."""

import datetime as dt

import pytest

from memory_core.audit import AuditQuery
from tests.helpers.dashboard import T0, assert_shown_as_text, messages, ok


@pytest.fixture
def seeded(dash):
    for i in range(60):
        for n in range(1 + i % 3):
            dash.add(user=f"user{i:02d}", memory=f"m{n}", minutes=i * 10 + n, id=f"{i}-{n}")
    return dash


def users(at) -> list[str]:
    return at.dataframe[0].value["user_id"].tolist()


def test_users_with_counts_and_last_activity(seeded):
    at = ok(seeded.app("users").run())
    frame = at.dataframe[0].value
    assert frame["user_id"].tolist()[:3] == ["user00", "user01", "user02"]
    assert frame["memories"].tolist()[:3] == [1, 2, 3]
    assert frame["last_activity"][2] == T0 + dt.timedelta(minutes=22)


def test_paging_with_a_cursor_stack(seeded):
    at = ok(seeded.app("users").run())
    assert len(users(at)) == 50
    at.button(key="users_pager_next").click().run()
    assert users(ok(at)) == [f"user{i}" for i in range(50, 60)]
    assert at.button(key="users_pager_next").disabled
    at.button(key="users_pager_prev").click().run()
    assert users(ok(at))[0] == "user00"


def test_find_by_prefix(seeded):
    at = ok(seeded.app("users").run())
    at.text_input(key="users_prefix").input("user5").run()
    assert at.query_params["prefix"] == "user5"
    assert users(ok(at)) == [f"user5{i}" for i in range(10)]
    at = ok(seeded.app("users", prefix="zed").run())
    assert messages(at, "info") == ["No user id starts with 'zed'."]


def test_page_size_from_the_url(seeded):
    at = ok(seeded.app("users", size="25").run())
    assert len(users(at)) == 25


def test_selecting_a_user_links_to_their_memories(seeded):
    at = ok(seeded.app("users").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    links = {link.proto.page: link.proto.query_string for link in ok(at.run()).page_link}  # "": Browse, the default
    assert links == {"browse": "store=main&user=user03", "search": "store=main&user=user03",
                     "add": "store=main&user=user03"}


def test_hostile_user_ids_are_text(dash):
    dash.add(user="<b>x</b> **y**")
    at = ok(dash.app("users").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    assert_shown_as_text(ok(at.run()), "<b>x</b> **y**")


def test_a_user_label_is_memdashs_own_and_shown_beside_the_id(dash):
    """A label names a person whose id is a UUID; it is kept in memdash's audit log, never in the store."""
    dash.add(user="9f1c-uuid", memory="Prefers e-mail")
    before = dash.get("m0000-9f1c-uuid")
    at = ok(dash.app("users").run())
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.text_input(key="users_label_9f1c-uuid").input("Jane (support ticket 4411)")
    at.button(key="users_label_save").click().run()
    assert messages(ok(at), "success") == ["Label saved."]
    assert at.dataframe[0].value["label"].tolist() == ["Jane (support ticket 4411)"]
    assert dash.get("m0000-9f1c-uuid") == before  # the store does not know about labels
    browse = ok(dash.app("browse").run())
    assert browse.dataframe[0].value["user_id"].tolist() == ["Jane (support ticket 4411) · 9f1c-uuid"]
    [entry] = dash.hub.audit.entries(AuditQuery(operation="label"))
    assert (entry.user_id, entry.note, entry.before, entry.after) == ("9f1c-uuid", "Jane (support ticket 4411)",
                                                                      None, None)
    shown = "Jane (support ticket 4411) · 9f1c-uuid"
    assert f"user: {shown}" in [t.value for t in ok(dash.app("memory", id="m0000-9f1c-uuid").run()).text]
    assert shown in ok(dash.app("audit").run()).dataframe[0].value["user_id"].tolist()
    search = ok(dash.app("search", user="9f1c-uuid", q="e-mail").run())
    assert f"1 result for user {shown}" in [c.value.replace("\\", "") for c in search.caption]
