"""The queues an accepted email waits on: interactive email never waits behind batch email,
and high-priority batch email never waits behind normal batch email."""

from __future__ import annotations

INTERACTIVE = "email-interactive"
BATCH = "email-batch"
BATCH_HIGH = "email-batch-high"
POISON_SUFFIX = "-poison"


def queue_for(mode: str, priority: str) -> str:
    if mode == "interactive":
        return INTERACTIVE
    return BATCH_HIGH if priority == "high" else BATCH


def queue_message(email_id: str) -> dict[str, object]:
    return {"id": email_id}
