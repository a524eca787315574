"""Dispatching over real storage: once only, forward only, and every outcome recorded."""

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from azure.storage.queue.aio import QueueClient

from shared.domain.delivery import DeliveryResult, Outcome
from shared.domain.history import EmailRecord, Status
from shared.domain.queues import BATCH, INTERACTIVE
from tests.support.builders import Stack, service_stack


@pytest.fixture
async def stack(storage: str, tmp_path: Path):
    async with service_stack(storage, tmp_path / "secrets.json", max_attempts=3) as built:
        await built.configuration.patch_parameters({"smtp": {"server": "127.0.0.1", "port": 2525}})
        await built.configuration.put_user("alice", {"email": "alice@contoso.com"})
        yield built


async def accept(stack: Stack, **changes: object) -> str:
    body = {
        "user": "alice",
        "provider": "smtp",
        "to": ["bob@contoso.com"],
        "bcc": ["carol@contoso.com"],
        "subject": "Hi",
        "body": {"text": "Hello"},
    }
    body.update(changes)
    return (await stack.sending.accept(body)).id


async def record(stack: Stack, email_id: str) -> EmailRecord:
    found = await stack.history.get(email_id)
    assert found is not None
    return found[0]


def message(email_id: str) -> bytes:
    return json.dumps({"id": email_id}).encode()


async def waiting_messages(connection: str, queue: str) -> int:
    async with QueueClient.from_connection_string(connection, queue) as client:
        return (await client.get_queue_properties()).approximate_message_count


async def test_a_sent_email_records_each_recipient_and_is_never_sent_twice(stack: Stack) -> None:
    email_id = await accept(stack)
    await stack.dispatching.dispatch(message(email_id), message_id="m1")
    await stack.dispatching.dispatch(message(email_id), message_id="m1")  # the message came back
    await stack.dispatching.dispatch(message(email_id), message_id="m2")  # a duplicate message
    assert len(stack.transport.sent) == 1
    outgoing, server = stack.transport.sent[0]
    assert outgoing.recipients == ("bob@contoso.com", "carol@contoso.com")
    assert outgoing.sender == "alice@contoso.com" and (server.host, server.port) == ("127.0.0.1", 2525)
    assert b"carol@contoso.com" not in outgoing.mime
    sent = await record(stack, email_id)
    assert sent.status is Status.SENT and sent.attempts == 1 and sent.sent_at is not None
    assert [(r.address, str(r.status)) for r in sent.recipients] == [
        ("bob@contoso.com", "Accepted"),
        ("carol@contoso.com", "Accepted"),
    ]


async def test_a_transient_failure_waits_with_backoff_and_is_queued_again(stack: Stack, storage: str) -> None:
    email_id = await accept(stack)
    await stack.dispatching.dispatch(message(email_id), message_id="m1")  # consumes nothing from Azurite
    stack.transport.results.append(
        DeliveryResult(
            Outcome.TRANSIENT,
            "The server said try later",
            code="SmtpTransientReply",
            provider_response="451 4.3.0 try later",
        )
    )
    second = await accept(stack)
    await stack.dispatching.dispatch(message(second), message_id="m2")
    waiting = await record(stack, second)
    assert waiting.status is Status.WAITING
    assert waiting.next_attempt_at == stack.clock.now + timedelta(seconds=60)
    assert waiting.last_failure_message == "The server said try later"
    assert waiting.failure_details is not None and waiting.failure_details.provider_response.startswith("451")
    assert await waiting_messages(storage, INTERACTIVE) == 3  # two accepted + one retry

    # a copy of the message arriving early is put back, not sent
    await stack.dispatching.dispatch(message(second), message_id="m3")
    assert len(stack.transport.sent) == 2
    stack.clock.now += timedelta(seconds=61)
    await stack.dispatching.dispatch(message(second), message_id="m4")
    assert (await record(stack, second)).status is Status.SENT


async def test_transient_failures_end_failed_after_the_last_attempt(stack: Stack) -> None:
    email_id = await accept(stack)
    for attempt in range(3):
        stack.transport.results.append(DeliveryResult(Outcome.TRANSIENT, "Could not connect to 127.0.0.1:2525"))
        await stack.dispatching.dispatch(message(email_id), message_id=f"m{attempt}")
        stack.clock.now += timedelta(hours=2)
    failed = await record(stack, email_id)
    assert failed.status is Status.FAILED and failed.attempts == 3
    assert failed.last_failure_message == "Could not connect to 127.0.0.1:2525 (gave up after 3 attempts)"
    assert len(failed.attempt_log) == 3


async def test_a_permanent_failure_fails_at_once_in_plain_words(stack: Stack) -> None:
    email_id = await accept(stack)
    stack.transport.results.append(
        DeliveryResult(
            Outcome.PERMANENT,
            "The SMTP server rejected the credentials: verify the SMTP user name and password",
            code="SmtpAuthenticationFailed",
            provider_response="535 5.7.8 bad credentials",
        )
    )
    await stack.dispatching.dispatch(message(email_id), message_id="m1")
    failed = await record(stack, email_id)
    assert failed.status is Status.FAILED and failed.attempts == 1
    assert failed.last_failure_message.startswith("The SMTP server rejected the credentials")
    assert failed.failure_details is not None and failed.failure_details.code == "SmtpAuthenticationFailed"


async def test_an_email_whose_sending_was_interrupted_is_unconfirmed_not_sent_again(stack: Stack) -> None:
    email_id = await accept(stack)
    found = await stack.history.get(email_id)
    assert found is not None
    claimed = found[0].moved_to(Status.SENDING, stack.clock.now, claimed_by="m1", claimed_at=stack.clock.now)
    await stack.history.replace(claimed, found[1])  # as if a dispatcher died mid-send

    await stack.dispatching.dispatch(message(email_id), message_id="m2")  # someone else's live claim
    assert (await record(stack, email_id)).status is Status.SENDING
    await stack.dispatching.dispatch(message(email_id), message_id="m1")  # the claimer's message is back
    unconfirmed = await record(stack, email_id)
    assert unconfirmed.status is Status.UNCONFIRMED
    assert "may or may not have been delivered" in (unconfirmed.last_failure_message or "")
    assert stack.transport.sent == []


async def test_a_poisoned_message_ends_failed_in_history(stack: Stack) -> None:
    email_id = await accept(stack)
    await stack.dispatching.give_up(message(email_id), dequeue_count=5)
    failed = await record(stack, email_id)
    assert failed.status is Status.FAILED
    assert "failed 5 times" in (failed.last_failure_message or "")


async def test_batch_email_stays_queued_while_batch_processing_is_off(stack: Stack, storage: str) -> None:
    await stack.configuration.patch_parameters({"batchProcessing": False})
    email_id = await accept(stack, mode="batch")
    await stack.dispatching.dispatch(message(email_id), message_id="m1")
    assert (await record(stack, email_id)).status is Status.QUEUED
    assert stack.transport.sent == []
    assert await waiting_messages(storage, BATCH) == 2  # the original (not consumed here) and its recheck
    await stack.configuration.patch_parameters({"batchProcessing": True})
    await stack.dispatching.dispatch(message(email_id), message_id="m2")
    assert (await record(stack, email_id)).status is Status.SENT


async def test_an_email_unsent_past_the_expiration_expires(stack: Stack) -> None:
    await stack.configuration.patch_parameters({"expirationDays": 2})
    email_id = await accept(stack)
    stack.clock.now += timedelta(days=2, seconds=1)
    await stack.dispatching.dispatch(message(email_id), message_id="m1")
    expired = await record(stack, email_id)
    assert expired.status is Status.EXPIRED and "2 days" in (expired.last_failure_message or "")
    assert stack.transport.sent == []


async def test_a_missing_smtp_server_is_a_clear_failure(stack: Stack) -> None:
    await stack.configuration.patch_parameters({"smtp": {"server": None}})
    email_id = await accept(stack)
    await stack.dispatching.dispatch(message(email_id), message_id="m1")
    failed = await record(stack, email_id)
    assert failed.status is Status.FAILED and "smtp.server" in (failed.last_failure_message or "")


async def test_the_password_reaches_the_transport_only_with_a_user_name(stack: Stack) -> None:
    await stack.configuration.set_smtp_password({"password": "s3cret-Pa55"})
    await stack.configuration.patch_parameters({"smtp": {"userName": "mailer"}})
    await stack.dispatching.dispatch(message(await accept(stack)), message_id="m1")
    server = stack.transport.sent[0][1]
    assert (server.user_name, server.password) == ("mailer", "s3cret-Pa55")
    shown = await stack.configuration.show_parameters()
    assert shown["smtp"]["passwordSet"] is True and "s3cret-Pa55" not in json.dumps(shown)
    assert base64.b64encode(b"s3cret-Pa55") not in json.dumps(shown).encode()
