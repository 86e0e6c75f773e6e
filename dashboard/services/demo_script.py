"""The Playground's guided demo: four scripted messages that show a stakeholder remember → recall → correct →
the agent's answer changes, said by a user who has no memories yet (so the script's facts are the only ones)."""

from __future__ import annotations

import dataclasses

from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core.interfaces import Capability
from memory_core.records import MemoryFilter

USERS = ("sam", "sam.rivera", "sam.okafor", "sam.lindqvist", "sam.tanaka")


@dataclasses.dataclass(frozen=True)
class DemoStep:
    title: str
    message: str  # what the demo user says
    point: str  # what to show the audience, in markdown
    needs_update: bool = False  # the step after this one waits until the proposed edit is applied


STEPS = (
    DemoStep("Remember", "I'm vegetarian. I always book a window seat.",
             "The agent keeps two short facts in the third person, tagged. Open the turn's memory trace: each was "
             "written through the toolkit's `add_memory` tool and recorded in the audit log."),
    DemoStep("Recall", "Which seat do I get when I fly?",
             "The agent searches the user's memories with `get_memory` and answers from them; the trace shows what "
             "it recalled and how close each memory was."),
    DemoStep("Correct", "Actually, I now prefer an aisle seat.",
             "The new fact contradicts a stored one, so the agent does not add a second memory: it proposes an edit "
             "of the old one. Click **Update the old memory** in the trace (one audited edit, with Undo).",
             needs_update=True),
    DemoStep("The answer changes", "Which seat do I get when I fly?",
             "Same question, new answer: the agent recalls the corrected memory. The Audit page lists every change "
             "of this demo, and any of them can be reverted."),
)


def demo_user(hub: StoreHub, store: str) -> str:
    """The first of :data:`USERS` with no memories in ``store`` (the first one when the store cannot count)."""
    if not hub.can(store, Capability.COUNT):
        return USERS[0]
    for user in USERS:
        if memories.count_memories(hub, store, MemoryFilter(user_id=user)) == 0:
            return user
    return USERS[0]
