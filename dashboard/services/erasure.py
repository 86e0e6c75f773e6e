"""Erasing a person from the Users page: the counts first, then the erasure (:mod:`memory_core.audit.erasure`),
both for the dashboard's admins only, the second only once the operator has typed the user id again."""

from __future__ import annotations

from dashboard.services.hub import StoreHub
from dashboard.services.snapshots import snapshots_dir
from memory_core.access import Actor, Role
from memory_core.audit.erasure import ACTION, ErasurePlan, Receipt, erase_user, plan_erasure
from memory_core.errors import InvalidInputError


def erasure_plan(hub: StoreHub, actor: Actor, store: str, user_id: str) -> ErasurePlan:
    """What erasing ``user_id`` from ``store`` would remove now, per place (changes nothing)."""
    actor.require_global(Role.ADMIN, ACTION)
    writer = hub.writer(actor, store)
    return hub.runner.run(plan_erasure(writer, hub.audit, user_id, snapshots=snapshots_dir(hub, store)))


def erase_person(hub: StoreHub, actor: Actor, store: str, user_id: str, typed: str) -> Receipt:
    """Erase ``user_id`` from ``store`` once ``typed`` repeats the id exactly; returns the receipt.
    ``NothingToErase`` for a user with nothing anywhere; an interrupted erasure is resumed by calling again."""
    actor.require_global(Role.ADMIN, ACTION)
    if typed != user_id:
        raise InvalidInputError("Not erased: type the user id exactly as shown to confirm.")
    writer = hub.writer(actor, store)
    return hub.runner.run(erase_user(writer, hub.audit, user_id, snapshots=snapshots_dir(hub, store)))
