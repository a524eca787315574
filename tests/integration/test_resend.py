"""Resend over real storage: Failed, Expired and Unconfirmed email is queued again as a new
attempt on the same record, once however often it is asked, and by filter with a count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.history import Status
from shared.errors import CannotHonour, Conflict, InvalidInput, NotFound
from tests.support.builders import Stack
from tests.support.history_builders import accept_at, dispatch, history_stack, record, take_messages

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def stack(storage: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with history_stack(storage, tmp_path) as built:
        yield built


async def test_a_failed_email_is_queued_again_on_the_same_record_and_sent(stack: Stack, storage: str) -> None:
    email_id = await accept_at(stack, NOW - timedelta(hours=3))
    failed = await dispatch(stack, email_id, "Failed")
    await take_messages(storage)
    stack.clock.now = NOW

    assert await stack.resending.resend(email_id) == {"id": email_id, "status": "Queued"}
    queued = await record(stack, email_id)
    assert (queued.status, queued.attempts, queued.resent_at) == (Status.QUEUED, failed.attempts, NOW)
    assert queued.next_attempt_at is None and queued.deferrals == 0
    assert queued.attempt_log[-1].outcome == "Resent" and queued.last_failure_message == failed.last_failure_message
    with pytest.raises(Conflict, match="queued again already"):
        await stack.resending.resend(email_id)  # a double click queues once
    assert await take_messages(storage) == [email_id]

    sent = await dispatch(stack, email_id, message_id="m2")
    assert (sent.status, sent.attempts, len(stack.transport.sent)) == (Status.SENT, 2, 2)


async def test_an_expired_email_gets_its_full_time_again(stack: Stack) -> None:
    email_id = await accept_at(stack, NOW - timedelta(days=31))
    stack.clock.now = NOW
    assert (await dispatch(stack, email_id)).status is Status.EXPIRED
    await stack.resending.resend(email_id)
    assert (await dispatch(stack, email_id, message_id="m2")).status is Status.SENT


async def test_what_cannot_be_resent_says_why(stack: Stack) -> None:
    sent = await dispatch(stack, await accept_at(stack, NOW))
    with pytest.raises(Conflict, match="this one is Sent"):
        await stack.resending.resend(sent.id)
    gone = await dispatch(stack, await accept_at(stack, NOW), "Unconfirmed")
    await stack.content.delete(gone.id)
    with pytest.raises(CannotHonour) as missing:
        await stack.resending.resend(gone.id)
    assert missing.value.code == "ContentMissing" and (await record(stack, gone.id)).status is Status.UNCONFIRMED
    with pytest.raises(NotFound):
        await stack.resending.resend("20261204-3-0000000000aaaaaaaaaa")


async def test_two_resends_at_once_queue_the_email_once(stack: Stack, storage: str) -> None:
    email_id = (await dispatch(stack, await accept_at(stack, NOW), "Failed")).id
    await take_messages(storage)
    outcomes = await asyncio.gather(*(stack.resending.resend(email_id) for _ in range(4)), return_exceptions=True)
    assert sum(1 for outcome in outcomes if isinstance(outcome, dict)) == 1
    assert all(isinstance(outcome, dict | Conflict) for outcome in outcomes)
    assert await take_messages(storage) == [email_id]


async def test_a_filtered_resend_counts_and_each_email_is_sent_once(stack: Stack, storage: str) -> None:
    alice_failed = [await dispatch(stack, await accept_at(stack, NOW - timedelta(hours=i)), "Failed") for i in range(3)]
    await dispatch(stack, await accept_at(stack, NOW - timedelta(hours=4)))  # Sent: not resent
    bob_unconfirmed = await dispatch(stack, await accept_at(stack, NOW, user="bob"), "Unconfirmed")
    bob_expired = await accept_at(stack, NOW - timedelta(days=31), user="bob")
    stack.clock.now = NOW
    await dispatch(stack, bob_expired)  # expires at dispatch
    missing = await dispatch(stack, await accept_at(stack, NOW, user="bob"), "Failed")
    await stack.content.delete(missing.id)
    await take_messages(storage)
    sends_before = len(stack.transport.sent)

    nothing_skipped = {"skipped": 0, "skippedReasons": {}}
    assert await stack.resending.resend_matching({"user": "alice"}) == {"queued": 3, **nothing_skipped}
    by_status = {"user": "bob", "status": "Expired,Unconfirmed"}
    assert await stack.resending.resend_matching(by_status) == {"queued": 2, **nothing_skipped}
    again = await stack.resending.resend_matching({})
    assert again == {"queued": 0, "skipped": 1, "skippedReasons": {"ContentMissing": 1}}

    queued = await take_messages(storage)
    expected = [r.id for r in alice_failed] + [bob_unconfirmed.id, bob_expired]
    assert sorted(queued) == sorted(expected)
    for email_id in queued + queued:  # every message delivered twice: still sent once
        await dispatch(stack, email_id, message_id=f"again-{email_id}")
    assert len(stack.transport.sent) - sends_before == 5
    assert {(await record(stack, email_id)).status for email_id in queued} == {Status.SENT}


async def test_a_filtered_resend_refuses_statuses_that_cannot_be_resent(stack: Stack) -> None:
    for body in ({"status": "Sent"}, {"status": ["Failed", "Queued"]}, ["Failed"]):
        with pytest.raises(InvalidInput):
            await stack.resending.resend_matching(body)
