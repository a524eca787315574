"""Accepting a send request over real storage: everything lands, or nothing stays behind."""

import base64
import email
import json
from email import policy
from pathlib import Path

import pytest
from azure.storage.queue.aio import QueueClient

from shared.domain.history import Status
from shared.domain.queues import BATCH, BATCH_HIGH, INTERACTIVE
from shared.errors import CannotHonour, Conflict, DependencyUnavailable, NotPermitted, TooLarge
from tests.support.builders import Stack, service_stack


@pytest.fixture
async def stack(storage: str, tmp_path: Path):
    async with service_stack(storage, tmp_path / "secrets.json") as built:
        await built.configuration.patch_parameters({"smtp": {"server": "127.0.0.1", "port": 2525}})
        await built.configuration.put_user("alice", {"email": "alice@contoso.com", "name": "Alice"})
        yield built


def send_body(**changes: object) -> dict:
    body = {
        "user": "alice",
        "provider": "smtp",
        "to": ["Bob <bob@contoso.com>"],
        "bcc": ["audit@contoso.com"],
        "subject": "Invoice",
        "body": {"text": "Attached."},
        "attachments": [
            {
                "name": "invoice.pdf",
                "contentType": "application/pdf",
                "contentBase64": base64.b64encode(b"%PDF-1.7 test").decode(),
            }
        ],
    }
    body.update(changes)
    return body


async def queued_ids(connection: str, queue: str) -> list[str]:
    async with QueueClient.from_connection_string(connection, queue) as client:
        messages = await client.peek_messages(max_messages=32)
    return [json.loads(base64.b64decode(m.content))["id"] for m in messages]


async def test_an_accepted_email_has_content_a_queued_record_and_a_message(stack: Stack, storage: str) -> None:
    accepted = await stack.sending.accept(send_body())
    found = await stack.history.get(accepted.id)
    assert found is not None
    record = found[0]
    assert (record.status, record.sender, record.sender_rule) == (Status.QUEUED, "alice@contoso.com", "UserEmail")
    assert record.bcc == ("audit@contoso.com",)
    assert record.attachments[0].size_bytes == len(b"%PDF-1.7 test")
    mime = await stack.content.get(accepted.id)
    assert mime is not None and record.size_bytes == len(mime)
    message = email.message_from_bytes(mime, policy=policy.default)
    assert message["X-Mailroom-Id"] == accepted.id and message["Bcc"] is None
    assert await queued_ids(storage, INTERACTIVE) == [accepted.id]


async def test_batch_and_high_priority_batch_email_wait_on_their_own_queues(stack: Stack, storage: str) -> None:
    normal = await stack.sending.accept(send_body(mode="batch"))
    high = await stack.sending.accept(send_body(mode="batch", priority="high"))
    assert await queued_ids(storage, BATCH) == [normal.id]
    assert await queued_ids(storage, BATCH_HIGH) == [high.id]


class BrokenQueue:
    async def enqueue(self, queue: str, body: dict, *, delay_seconds: float = 0) -> None:
        raise DependencyUnavailable("Storage is not reachable right now (queueing): try again shortly")


async def test_when_the_queue_is_down_the_caller_gets_503_and_nothing_stays_behind(
    storage: str, tmp_path: Path
) -> None:
    async with service_stack(storage, tmp_path / "s.json", queue=BrokenQueue()) as broken:
        await broken.configuration.put_user("alice", {"email": "alice@contoso.com"})
        with pytest.raises(DependencyUnavailable):
            await broken.sending.accept(send_body())
        history = await broken.tables.table("emailhistory")
        assert [e async for e in history.list_entities()] == []
        container = broken.content._service.get_container_client("email-content")
        assert [b async for b in container.list_blobs()] == []


async def test_the_size_limit_counts_the_whole_message_as_sent_to_the_byte(stack: Stack) -> None:
    body = send_body(attachments=[{"name": "big.bin", "contentBase64": base64.b64encode(b"x" * 8000).decode()}])
    first = await stack.sending.accept(body)
    found = await stack.history.get(first.id)
    assert found is not None
    size = found[0].size_bytes
    assert size > 8000 * 4 / 3  # base64 and headers count, not the raw attachment

    await stack.configuration.patch_parameters({"maxEmailSizeMb": size / 1048576})
    at_limit = await stack.sending.accept(body)
    assert at_limit.status == "Queued"

    await stack.configuration.patch_parameters({"maxEmailSizeMb": (size - 1) / 1048576})
    with pytest.raises(TooLarge) as refused:
        await stack.sending.accept(body)
    assert refused.value.details == {"sizeBytes": size, "limitBytes": size - 1}
    assert f"{size:,} bytes" in refused.value.message and f"{size - 1:,} bytes" in refused.value.message


async def test_an_unknown_user_a_foreign_from_and_a_missing_choice_are_refused(stack: Stack) -> None:
    with pytest.raises(CannotHonour) as unknown:
        await stack.sending.accept(send_body(user="nobody"))
    assert unknown.value.field == "user"
    with pytest.raises(NotPermitted) as foreign:
        await stack.sending.accept(send_body(**{"from": "ceo@contoso.com"}))
    assert "Client does not have permissions to send as this sender" in foreign.value.message
    body = send_body()
    del body["provider"]
    with pytest.raises(Conflict) as ask:
        await stack.sending.accept(body)
    assert ask.value.code == "ProviderChoiceRequired"
    options = {o["id"]: o for o in ask.value.details["options"]}
    assert options["smtp"]["lastUsed"] is False and set(options) == {"eml", "exchange", "smtp"}
    await stack.sending.accept(send_body())
    with pytest.raises(Conflict) as again:
        await stack.sending.accept(body)
    assert {o["id"]: o["lastUsed"] for o in again.value.details["options"]}["smtp"] is True
