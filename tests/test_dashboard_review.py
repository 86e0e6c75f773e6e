"""Review queue: scan, then approve / redact / delete through services (audited), hostile text as text."""

from __future__ import annotations

from dashboard_helpers import HOSTILE, assert_shown_as_text, messages, ok, texts

from memory_core.audit.log import AuditQuery
from memory_core.review import REVIEWED_KEY


def seeded(dash):
    dash.add(user="alice", memory="Alice's e-mail is alice@example.com", id="pii")
    dash.add(user="alice", memory="Alice is vegetarian", tags=["diet"], minutes=1, id="veg")
    dash.add(user="alice", memory="Alice eats meat at barbecues", tags=["diet"], minutes=2, id="meat")
    return dash


def scanned(dash):
    at = ok(dash.app("review").run())
    at.button(key="review_scan").click().run()
    return ok(at)


def test_scan_lists_findings_with_links(dash):
    at = scanned(seeded(dash))
    shown = texts(at)
    assert "e-mail address: alice@example.com" in shown
    assert "vegetarian / eats meat" in shown
    assert any(link.proto.label == "Other memory" for link in at.page_link)


def test_redact_goes_through_the_editor_and_the_audit_log(dash):
    at = scanned(seeded(dash))
    at.button(key="review_redact_0").click().run()
    assert dash.get("pii").item.memory == "Alice's e-mail is [redacted]"
    assert any("pii redacted" in m for m in messages(ok(at), "success"))
    [entry] = dash.hub.audit.entries(AuditQuery(memory_id="pii", operation="update"))
    assert "alice@example.com" in entry.before["memory"] and entry.after["memory"].endswith("[redacted]")


def test_approve_then_rescan_skips_it(dash):
    at = scanned(seeded(dash))
    at.button(key="review_approve_0").click().run()
    assert dash.get("pii").item.metadata[REVIEWED_KEY] is True
    at.button(key="review_scan").click().run()
    assert "e-mail address: alice@example.com" not in texts(ok(at))


def test_delete(dash):
    at = scanned(seeded(dash))
    position = next(i for i, t in enumerate(texts(at)) if t == "vegetarian / eats meat") // 2
    at.button(key=f"review_delete_{position}").click().run()
    assert [r.id for r in dash.records()] == ["pii", "veg"]


def test_hostile_text_and_nothing_to_review(dash):
    at = scanned(dash)
    assert messages(at, "success") == ["Nothing to review."]
    dash.add(user=HOSTILE, memory=HOSTILE + " mail x@example.org")
    at.button(key="review_scan").click().run()
    assert_shown_as_text(ok(at), HOSTILE)
