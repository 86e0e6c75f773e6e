"""Review queue: scan, then approve (memdash's own state, the memory untouched), redact (an audited edit) or
delete after a confirmation naming the memory, with Undo; hostile text as text."""

from __future__ import annotations

from memory_core.audit.log import AuditQuery
from memory_core.records import MemoryPatch
from tests.helpers.dashboard import HOSTILE, assert_shown_as_text, messages, ok, texts


def seeded(dash):
    dash.add(user="alice", memory="Alice's e-mail is alice@example.com", id="pii")
    dash.add(user="alice", memory="Alice is vegetarian", tags=["diet"], minutes=1, id="veg")
    dash.add(user="alice", memory="Alice eats meat at barbecues", tags=["diet"], minutes=2, id="meat")
    return dash


def scanned(dash):
    at = ok(dash.app("review").run())
    at.button(key="review_scan").click().run()
    return ok(at)


def entries(dash, **query):
    return list(dash.hub.audit.entries(AuditQuery(**query)))


def test_scan_lists_findings_with_links(dash):
    at = scanned(seeded(dash))
    shown = texts(at)
    assert "e-mail address: alice@example.com" in shown
    assert "vegetarian / eats meat" in shown
    assert any(link.proto.label == "Edit the older" for link in at.page_link)


def test_redact_goes_through_the_editor_and_the_audit_log(dash):
    at = scanned(seeded(dash))
    at.button(key="review_redact_0").click().run()
    assert dash.get("pii").item.memory == "Alice's e-mail is [redacted]"
    [done] = messages(ok(at), "success")
    assert done.startswith("Redacted “Alice's e-mail is [redacted]” (user alice): now version 2")
    [entry] = entries(dash, memory_id="pii", operation="update")
    assert "alice@example.com" in entry.before["memory"] and entry.after["memory"].endswith("[redacted]")


def test_approve_is_recorded_by_memdash_and_leaves_the_memory_as_the_agent_sees_it(dash):
    at = scanned(seeded(dash))
    before = dash.get("pii")
    at.button(key="review_approve_0").click().run()
    assert dash.get("pii") == before  # same text, metadata and version: the agent sees no change
    [entry] = entries(dash, operation="review")
    assert (entry.memory_id, entry.note, entry.before, entry.after) == ("pii", "approved version 1", None, None)
    assert "e-mail address: alice@example.com" not in texts(ok(at))  # off the list at once
    at.button(key="review_scan").click().run()
    assert "e-mail address: alice@example.com" not in texts(ok(at))  # and on a new scan


def test_an_approved_memory_that_changes_is_flagged_again(dash):
    at = scanned(seeded(dash))
    at.button(key="review_approve_0").click().run()
    dash.hub.runner.run(dash.hub.writer(dash_actor(), "main").update(
        "pii", MemoryPatch(memory="Alice's e-mail is alice@example.org"), expected_version=1))
    at.button(key="review_scan").click().run()
    assert "e-mail address: alice@example.org" in texts(ok(at))


def test_approving_a_memory_changed_since_the_scan_is_refused(dash):
    at = scanned(seeded(dash))
    dash.hub.runner.run(dash.hub.writer(dash_actor(), "main").update(
        "pii", MemoryPatch(tags=["edited"]), expected_version=1))
    at.button(key="review_approve_0").click().run()
    assert entries(dash, operation="review") == []
    [error] = messages(ok(at), "error")
    assert error.startswith("Not approved: memory pii changed since it was loaded") and "Scan again" in error


def test_delete_asks_first_names_the_memory_and_can_be_undone(dash):
    at = scanned(seeded(dash))
    position = next(i for i, t in enumerate(texts(at)) if t == "vegetarian / eats meat") // 2
    at.button(key=f"review_delete_{position}").click().run()  # the newer of the pair: "meat"
    assert len(dash.records()) == 3  # nothing yet: a confirmation first
    assert any("Delete this memory of user alice?" in m for m in messages(ok(at), "markdown"))
    assert "Alice eats meat at barbecues" in texts(at)
    at.button(key="review_delete_confirm").click().run()
    assert [r.id for r in dash.records()] == ["pii", "veg"]
    assert messages(ok(at), "success") == ["Deleted “Alice eats meat at barbecues” (user alice)."]
    [deleted] = entries(dash, operation="delete")
    assert deleted.memory_id == "meat" and deleted.batch
    at.button(key="undo_banner").click().run()
    assert [r.id for r in dash.records()] == ["pii", "veg", "meat"]


def test_delete_the_older_of_a_pair(dash):
    at = scanned(seeded(dash))
    position = next(i for i, t in enumerate(texts(at)) if t == "vegetarian / eats meat") // 2
    at.button(key=f"review_delete_other_{position}").click().run()
    assert "Alice is vegetarian" in texts(ok(at))
    at.button(key="review_delete_confirm").click().run()
    assert [r.id for r in dash.records()] == ["pii", "meat"]


def test_cancel_deletes_nothing(dash):
    at = scanned(seeded(dash))
    at.button(key="review_delete_0").click().run()
    at.button(key="review_delete_cancel").click().run()
    assert len(dash.records()) == 3 and entries(dash, operation="delete") == []


def test_hostile_text_and_nothing_to_review(dash):
    at = scanned(dash)
    assert messages(at, "success") == ["Nothing to review."]
    dash.add(user=HOSTILE, memory=HOSTILE + " mail x@example.org")
    at.button(key="review_scan").click().run()
    assert_shown_as_text(ok(at), HOSTILE)


def dash_actor():
    from memory_core.access import Actor, Role

    return Actor("another operator", Role.ADMIN)
