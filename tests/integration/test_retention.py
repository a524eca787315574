"""The retention purge and expiry over real storage: old final email goes with its content and its
idempotency key, unfinished email never goes (it expires first), and a purge stopped half-way
is finished by the next run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.data.tables.aio import TableClient

from shared.adapters.history_queries import TableHistoryQueries
from shared.domain.history import Status
from shared.services.retention import PurgeReport
from tests.support.builders import Stack
from tests.support.history_builders import accept_at, dispatch, history_stack, record

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def stack(storage: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with history_stack(storage, tmp_path) as built:
        yield built


async def exists(stack: Stack, email_id: str) -> tuple[bool, bool]:
    """(record, content) still stored."""
    return await stack.history.get(email_id) is not None, await stack.content.get(email_id) is not None


async def idempotency_keys(storage: str) -> set[str]:
    async with TableClient.from_connection_string(storage, "idempotency") as table:
        return {entity["RowKey"] async for entity in table.list_entities()}


async def purge_at(stack: Stack, when: datetime = NOW) -> PurgeReport:
    stack.clock.now = when
    return await stack.retention.purge()


async def test_old_sent_email_goes_with_its_content_and_key_and_unsent_email_stays(stack: Stack, storage: str) -> None:
    await stack.configuration.patch_parameters({"expirationDays": 60})
    old = NOW - timedelta(days=40)
    sent = [
        await dispatch(stack, await accept_at(stack, old + timedelta(minutes=i), idempotencyKey=f"k{i}"))
        for i in range(3)
    ]
    failed = await dispatch(stack, await accept_at(stack, old), "Failed")
    queued = await accept_at(stack, old, mode="batch")
    recent = await dispatch(stack, await accept_at(stack, NOW - timedelta(days=2), idempotencyKey="recent"))
    report = await purge_at(stack)
    assert (report.deleted, report.expired) == (4, 0)
    for gone in (*sent, failed):
        assert await exists(stack, gone.id) == (False, False)
    assert await exists(stack, queued) == (True, True) and (await record(stack, queued)).status is Status.QUEUED
    assert await exists(stack, recent.id) == (True, True)
    assert await idempotency_keys(storage) == {"recent"}


async def test_retention_zero_means_thirty_days(stack: Stack) -> None:
    await stack.configuration.patch_parameters({"historyRetentionDays": 0})
    day_31 = await dispatch(stack, await accept_at(stack, NOW - timedelta(days=31)))
    day_29 = await dispatch(stack, await accept_at(stack, NOW - timedelta(days=29)))
    await purge_at(stack)
    assert (await exists(stack, day_31.id), await exists(stack, day_29.id)) == ((False, False), (True, True))
    await stack.configuration.patch_parameters({"historyRetentionDays": 35})
    day_33 = await dispatch(stack, await accept_at(stack, NOW - timedelta(days=33)))
    await purge_at(stack)
    assert await exists(stack, day_33.id) == (True, True)


async def test_a_purge_stopped_half_way_is_finished_by_the_next_run(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [(await dispatch(stack, await accept_at(stack, NOW - timedelta(days=45, minutes=i)))).id for i in range(12)]
    kept = await accept_at(stack, NOW - timedelta(days=45))  # Queued: expires, never purged unseen
    real_delete = TableHistoryQueries.delete

    async def crash_after_the_blobs(self: TableHistoryQueries, rows: list) -> int:  # type: ignore[type-arg]
        raise RuntimeError("the instance stopped")

    monkeypatch.setattr(TableHistoryQueries, "delete", crash_after_the_blobs)
    with pytest.raises(RuntimeError):
        await purge_at(stack)
    half_done = [await exists(stack, email_id) for email_id in ids]
    assert half_done == [(True, False)] * len(ids)  # content went first: harmless, and found again
    assert (await record(stack, kept)).status is Status.EXPIRED

    monkeypatch.setattr(TableHistoryQueries, "delete", real_delete)
    await purge_at(stack)
    assert [await exists(stack, email_id) for email_id in ids] == [(False, False)] * len(ids)
    assert await exists(stack, kept) == (False, False)  # expired by the first run, so purged by this one
    report = await stack.retention.purge()  # and a run with nothing left to do does nothing
    assert (report.deleted, report.expired) == (0, 0)


async def test_unsent_email_expires_whether_or_not_its_message_comes_back(stack: Stack) -> None:
    lost = await accept_at(stack, NOW - timedelta(days=31))  # its queue message was lost
    late = await accept_at(stack, NOW - timedelta(days=31))  # its message comes back after expiry
    fresh = await accept_at(stack, NOW - timedelta(days=29))
    stack.clock.now = NOW
    expired = await dispatch(stack, late)
    assert expired.status is Status.EXPIRED and stack.transport.sent == []
    assert "Not sent within 30 days" in (expired.last_failure_message or "")

    await purge_at(stack)
    swept = await record(stack, lost)
    assert swept.status is Status.EXPIRED and "queue message was lost" in (swept.last_failure_message or "")
    assert (await record(stack, fresh)).status is Status.QUEUED
    assert await exists(stack, lost) == (True, True)  # kept until the next run, for an administrator to see
    assert await exists(stack, late) == (False, False)  # final and older than retention: purged


async def test_a_stuck_send_older_than_expiry_becomes_unconfirmed_not_expired(stack: Stack) -> None:
    email_id = await accept_at(stack, NOW - timedelta(days=40))
    found = await stack.history.get(email_id)
    assert found is not None
    claimed = found[0].moved_to(Status.SENDING, stack.clock.now, claimed_by="m1", claimed_at=stack.clock.now)
    await stack.history.replace(claimed, found[1])
    await purge_at(stack)
    assert (await record(stack, email_id)).status is Status.UNCONFIRMED


async def test_an_empty_history_purges_nothing(stack: Stack) -> None:
    stack.clock.now = NOW
    report = await stack.retention.purge()
    assert (report.deleted, report.expired, report.partitions) == (0, 0, 0)
