"""Who a toolkit user id is: the NeMo Agent Toolkit (1.9) names the users of ``nat serve`` by a UUID derived
from their identity, so an operator looking for "jane@example.com" sees only UUIDs. This module derives the
same ids (``nat/data_models/user_info.py``): ``uuid5(uuid5(NAMESPACE_DNS, "nemo-agent-toolkit"), key)``, where
the key is a JWT's ``sub`` (else ``email``, else ``preferred_username``), an API key, or, for HTTP basic auth,
``base64("username:password")``. Nothing here is sent anywhere or stored.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "nemo-agent-toolkit")


@dataclasses.dataclass(frozen=True)
class Derived:
    """One reading of what an operator typed, and the toolkit user id it gives."""

    reading: str
    user_id: str


def toolkit_user_id(key: str) -> str:
    """The toolkit's user id for an identity key (a JWT claim's value, an API key, a basic-auth credential)."""
    return str(uuid.uuid5(NAMESPACE, key))


def readings(typed: str) -> list[Derived]:
    """Every toolkit user id ``typed`` may stand for: a JWT ``sub``/e-mail/username (the toolkit trims claims)
    or an API key (taken as typed), the same id unless ``typed`` has surrounding spaces; and, when it holds a
    colon, a basic-auth ``username:password`` (as typed)."""
    claim = typed.strip()
    if not claim:
        return []
    if claim == typed:
        found = [Derived("an e-mail, sub, username (JWT) or API key", toolkit_user_id(typed))]
    else:
        found = [Derived("an e-mail, sub or username (JWT)", toolkit_user_id(claim)),
                 Derived("an API key", toolkit_user_id(typed))]
    if ":" in typed:
        credential = base64.b64encode(typed.encode()).decode()
        found.append(Derived("a basic-auth username:password", toolkit_user_id(credential)))
    return found
