"""Histories for the history tests: emails accepted at chosen moments (ids carry their day) and
driven to the status a test needs through the real dispatcher."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.storage.queue import TextBase64DecodePolicy
from azure.storage.queue.aio import QueueClient

from shared.domain.delivery import DeliveryResult, Outcome
from shared.domain.history import EmailRecord
from shared.domain.queues import BATCH, BATCH_HIGH, INTERACTIVE
from tests.support.builders import Stack, service_stack

FAILURES = {
    "Failed": DeliveryResult(Outcome.PERMANENT, "550 no such user", code="SmtpPermanentReply", provider_response="550"),
    "Unconfirmed": DeliveryResult(Outcome.UNCONFIRMED, "the connection dropped during DATA", code="SmtpDropped"),
}


@asynccontextmanager
async def history_stack(storage: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with service_stack(storage, tmp_path / "secrets.json", max_attempts=3) as stack:
        await stack.configuration.patch_parameters({"smtp": {"server": "127.0.0.1", "port": 2525}})
        for user in ("alice", "bob"):
            await stack.configuration.put_user(user, {"email": f"{user}@contoso.com"})
        yield stack


async def accept_at(stack: Stack, when: datetime, **changes: Any) -> str:
    """An email accepted at `when` (the clock stays there)."""
    stack.clock.now = when
    body: dict[str, Any] = {"user": "alice", "provider": "smtp", "to": ["bob@example.com"], "subject": "Hi"}
    body.update(changes)
    return (await stack.sending.accept(body)).id


async def dispatch(stack: Stack, email_id: str, outcome: str = "Sent", *, message_id: str = "m1") -> EmailRecord:
    """Dispatches `email_id` once; the transport answers as `outcome` says."""
    if outcome in FAILURES:
        stack.transport.results.append(FAILURES[outcome])
    await stack.dispatching.dispatch(json.dumps({"id": email_id}).encode(), message_id=message_id)
    return await record(stack, email_id)


async def record(stack: Stack, email_id: str) -> EmailRecord:
    found = await stack.history.get(email_id)
    assert found is not None, email_id
    return found[0]


async def take_messages(connection: str, queues: tuple[str, ...] = (INTERACTIVE, BATCH, BATCH_HIGH)) -> list[str]:
    """Receives and deletes every visible message; their email ids, in queue order."""
    ids = []
    for name in queues:
        async with QueueClient.from_connection_string(
            connection, name, message_decode_policy=TextBase64DecodePolicy()
        ) as client:
            try:
                async for message in client.receive_messages(messages_per_page=32):
                    ids.append(json.loads(message.content)["id"])
                    await client.delete_message(message)
            except Exception as error:  # a queue nobody wrote to yet
                if "QueueNotFound" not in str(error):
                    raise
    return ids
