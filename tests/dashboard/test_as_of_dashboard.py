"""The "As of a date" page (AppTest): a user's memories at a moment from the URL, the edit made since undone,
a download of exactly those records, the form writing the URL, and bad input said plainly."""

from __future__ import annotations

import datetime as dt
import time

from dashboard.services import memories
from memory_core.access import LOCAL_ADMIN
from memory_core.records import MemoryPatch
from tests.helpers.dashboard import messages, ok


def test_as_of_shows_the_memories_as_they_were_and_downloads_them(dash):
    tea = dash.add(memory="Alice likes tea.")
    dash.add(user="bob", memory="Bob likes jazz.")
    time.sleep(0.01)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    memories.update_memory(dash.hub, LOCAL_ADMIN, "main", tea, MemoryPatch(memory="Alice likes coffee."),
                           expected_version=1)
    at = ok(dash.app("as_of", user="alice", at=moment.isoformat()).run())
    assert at.dataframe[0].value["memory"].tolist() == ["Alice likes tea."]
    assert any("1 memory of alice as they were at" in c.value and "1 audited change made since undone" in c.value
               for c in at.caption)
    [download] = at.get("download_button")
    assert download.proto.label == "Download as JSONL"
    assert messages(at, "warning") == []
    now = ok(dash.app("as_of", user="alice", at=dt.datetime.now(dt.UTC).isoformat()).run())
    assert now.dataframe[0].value["memory"].tolist() == ["Alice likes coffee."]


def test_as_of_a_moment_before_the_audit_log_started_says_what_is_not_known(dash):
    dash.add(memory="Alice likes tea.")
    at = ok(dash.app("as_of", user="alice", at="2020-01-01T00:00:00Z").run())
    [warning] = messages(at, "warning")
    assert warning.startswith("The audit log starts ") and "deleted outside it before then are not known" in warning
    assert any("0 memories of alice" in c.value for c in at.caption)


def test_as_of_form_writes_the_moment_in_utc_and_bad_input_is_a_message(dash):
    dash.add(memory="Alice likes tea.")
    at = ok(dash.app("as_of").run())
    at.text_input(key="as_of_user").input("alice")
    at.date_input(key="as_of_day").set_value(dt.date(2030, 1, 1))
    at.button(key="FormSubmitter:as_of_form-Show").click().run()
    assert at.query_params["user"] in ("alice", ["alice"])
    [raw] = [at.query_params["at"]] if isinstance(at.query_params["at"], str) else at.query_params["at"]
    when = dt.datetime.fromisoformat(raw)
    assert when.date() == dt.date(2030, 1, 1) and when.utcoffset() == dt.timedelta(0)  # the viewer's zone is UTC
    assert messages(at, "error") == [f"{when.isoformat()} is in the future: the memories as of now are on Browse"]
    bad = ok(dash.app("as_of", user="alice", at="yesterday").run())
    assert messages(bad, "error") == ["at must be a date like 2024-05-31, not 'yesterday'"]
