"""Queue triggers: one dispatcher per queue, and one per poison queue so that no email is
ever left silently in a poison queue."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.bootstrap import services
from shared.domain.queues import BATCH, BATCH_HIGH, INTERACTIVE, POISON_SUFFIX
from shared.services.dispatching import UnreadableMessage

log = logging.getLogger(__name__)
bp = func.Blueprint()
CONNECTION = "AzureWebJobsStorage"


async def dispatch_message(msg: func.QueueMessage) -> None:
    try:
        await services().dispatching.dispatch(msg.get_body(), message_id=msg.id or "")
    except UnreadableMessage as error:
        log.error("dropped queue message %s: %s", msg.id, error)


async def give_up_message(msg: func.QueueMessage) -> None:
    try:
        await services().dispatching.give_up(msg.get_body(), dequeue_count=msg.dequeue_count)
    except UnreadableMessage as error:
        log.error("dropped poison message %s: %s", msg.id, error)


def _register(queue: str, name: str) -> None:
    @bp.function_name(f"dispatch_{name}")
    @bp.queue_trigger(arg_name="msg", queue_name=queue, connection=CONNECTION)
    async def dispatch(msg: func.QueueMessage) -> None:
        await dispatch_message(msg)

    @bp.function_name(f"fail_poisoned_{name}")
    @bp.queue_trigger(arg_name="msg", queue_name=queue + POISON_SUFFIX, connection=CONNECTION)
    async def fail_poisoned(msg: func.QueueMessage) -> None:
        await give_up_message(msg)


for _queue, _name in ((INTERACTIVE, "interactive"), (BATCH, "batch"), (BATCH_HIGH, "batch_high")):
    _register(_queue, _name)
