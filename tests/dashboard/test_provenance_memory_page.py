"""Where a memory came from (AppTest): the Memory page names its conversation, the function that wrote it and
when, and links to the other memories of that conversation; a memory without provenance shows nothing extra."""

from __future__ import annotations

import urllib.parse

from memory_core import provenance
from tests.helpers.dashboard import ok

SOURCE = {provenance.CONVERSATION: "c-42", provenance.FUNCTION: "add_memory",
          provenance.WRITTEN_AT: "2024-06-01T10:00:00+00:00"}


def test_provenance_is_shown_and_links_to_the_conversations_other_memories(dash):
    first = dash.add(memory="Alice likes tea.", metadata=SOURCE)
    dash.add(memory="Alice lives in Lisbon.", metadata=SOURCE, minutes=1)
    dash.add(memory="Alice plays chess.", metadata={provenance.CONVERSATION: "c-7"}, minutes=2)
    at = ok(dash.app("memory", id=first).run())
    assert "Came from conversation c-42, written by add_memory, at 2024-06-01 10:00:00 UTC." in [
        c.value.replace("\\", "") for c in at.caption]  # markdown-escaped on the page
    [link] = [link.proto for link in at.page_link if link.proto.label == "Other memories from this conversation"]
    params = dict(urllib.parse.parse_qsl(link.query_string))
    browse = ok(dash.app("browse", **params).run())
    assert sorted(browse.dataframe[0].value["memory"]) == ["Alice likes tea.", "Alice lives in Lisbon."]


def test_a_memory_without_provenance_shows_no_origin(dash):
    plain = dash.add(memory="Alice likes tea.")
    at = ok(dash.app("memory", id=plain).run())
    assert not any(c.value.startswith("Came from") for c in at.caption)
