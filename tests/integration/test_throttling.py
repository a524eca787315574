"""The throttle over real Table Storage: shared slots, deferral, the plan and the ten-deferral rule."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from shared.adapters.table_storage import Tables
from shared.adapters.throttle_table import TableThrottleStore
from shared.domain.history import EmailRecord, Status
from shared.domain.throttle import window_index, window_start
from tests.support.builders import Stack, service_stack


async def test_instances_racing_for_the_last_slots_never_overshoot(storage: str) -> None:
    clients = [Tables(storage) for _ in range(3)]  # three instances, each with its own connection
    try:
        stores = [TableThrottleStore(tables) for tables in clients]
        taken = await asyncio.gather(*(stores[i % 3].take_slot("smtp", 7, 5) for i in range(30)))
        assert sum(taken) == 5
        assert await stores[0].used("smtp", 7) == 5
        assert await stores[1].take_slot("smtp", 7, 5, force=True)
        assert await stores[2].used("smtp", 7) == 6
        assert await stores[0].take_slot("smtp", 8, 5)  # a new window starts empty
    finally:
        for tables in clients:
            await tables.aclose()


@pytest.fixture
async def stack(storage: str, tmp_path: Path):
    async with service_stack(storage, tmp_path / "s.json") as built:
        # the middle of a window, so that every test's emails fall in one window
        start = window_start(window_index(built.clock.now, 60) + 1, 60)
        built.clock.now = start + timedelta(seconds=20)
        await built.configuration.patch_parameters(
            {"smtp": {"server": "127.0.0.1"}, "throttling": {"enabled": True, "perMinuteLimits": {"smtp": 2}}}
        )
        await built.configuration.put_user("erp", {"email": "erp@contoso.com"})
        yield built


async def accept(stack: Stack, *, mode: str = "batch", priority: str = "normal") -> str:
    body = {"user": "erp", "provider": "smtp", "mode": mode, "to": ["a@contoso.com"], "subject": "s"}
    if priority != "normal":
        body["priority"] = priority
    accepted = await stack.sending.accept(body)
    stack.clock.now += timedelta(milliseconds=10)  # distinct arrival times
    return accepted.id


def next_window(stack: Stack) -> None:
    """Into the next window, past the latest time a deferred email wakes (its first half)."""
    stack.clock.now = window_start(window_index(stack.clock.now, 60) + 1, 60) + timedelta(seconds=31)


async def dispatch(stack: Stack, email_id: str) -> EmailRecord:
    await stack.dispatching.dispatch(json.dumps({"id": email_id}).encode(), message_id=f"m-{email_id}")
    found = await stack.history.get(email_id)
    assert found is not None
    return found[0]


async def test_over_the_limit_batch_email_is_deferred_to_the_next_window(stack: Stack) -> None:
    ids = [await accept(stack) for _ in range(4)]
    records = [await dispatch(stack, email_id) for email_id in ids]
    assert [r.status for r in records] == [Status.SENT, Status.SENT, Status.DEFERRED, Status.DEFERRED]
    deferred = records[2]
    assert deferred.deferrals == 1 and deferred.attempts == 0
    assert deferred.next_attempt_at is not None
    next_window = window_index(stack.clock.now, 60) + 1
    assert window_index(deferred.next_attempt_at, 60) == next_window
    assert deferred.next_attempt_at - stack.clock.now <= timedelta(seconds=60)
    assert "limit of 2" in deferred.attempt_log[-1].response

    interactive = await dispatch(stack, await accept(stack, mode="interactive"))
    assert interactive.status is Status.SENT  # never throttled


async def test_the_rebalancer_sends_the_backlog_oldest_first(stack: Stack) -> None:
    ids = [await accept(stack) for _ in range(6)]
    for email_id in ids:
        await dispatch(stack, email_id)  # two sent, four deferred
    assert [await stack.throttling.rebalance(await stack.configuration.parameters())] == [{"smtp": 4}]

    next_window(stack)
    await stack.throttling.rebalance(await stack.configuration.parameters())
    newest_first = [await dispatch(stack, email_id) for email_id in reversed(ids[2:])]
    assert [r.status for r in newest_first] == [Status.DEFERRED, Status.DEFERRED, Status.SENT, Status.SENT]
    assert [r.id for r in newest_first if r.status is Status.SENT] == [ids[3], ids[2]]

    next_window(stack)
    await stack.throttling.rebalance(await stack.configuration.parameters())
    last = [await dispatch(stack, email_id) for email_id in ids[4:]]
    assert [r.status for r in last] == [Status.SENT, Status.SENT]
    assert [r.deferrals for r in last] == [2, 2]
    assert await stack.throttling.rebalance(await stack.configuration.parameters()) == {"smtp": 0}


async def test_high_priority_batch_email_goes_ahead_of_the_normal_backlog(stack: Stack) -> None:
    normal = [await accept(stack) for _ in range(4)]
    for email_id in normal:
        await dispatch(stack, email_id)
    urgent = await accept(stack, priority="high")
    assert (await dispatch(stack, urgent)).status is Status.DEFERRED
    next_window(stack)
    await stack.throttling.rebalance(await stack.configuration.parameters())
    assert (await dispatch(stack, normal[2])).status is Status.SENT
    assert (await dispatch(stack, normal[3])).status is Status.DEFERRED  # the urgent one took its place
    assert (await dispatch(stack, urgent)).status is Status.SENT


async def test_after_ten_deferrals_an_email_is_sent_over_the_limit_and_history_says_so(stack: Stack) -> None:
    blockers = [await accept(stack) for _ in range(2)]
    patient = await accept(stack)
    for _ in range(10):
        for email_id in blockers:
            await dispatch(stack, email_id)
        record = await dispatch(stack, patient)
        assert record.status is Status.DEFERRED
        next_window(stack)
        blockers = [await accept(stack) for _ in range(2)]  # fresh email keeps every window full
    assert record.deferrals == 10
    for email_id in blockers:
        await dispatch(stack, email_id)
    forced = await dispatch(stack, patient)
    assert forced.status is Status.SENT and forced.deferrals == 10
    assert any("sent over the limit of 2 a minute after 10 deferrals" in e.response for e in forced.attempt_log)
    assert await stack.throttling.used_now("smtp") == 3
