"""The Batch email sending status over real storage: switch, queues, the oldest waiting email,
counts over the last hour and day, and each provider's use of its per-minute limit."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from tests.support.builders import Stack
from tests.support.history_builders import accept_at, dispatch, history_stack

NOW = datetime(2026, 12, 4, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
async def stack(storage: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with history_stack(storage, tmp_path) as built:
        yield built


async def count_sent(storage: str, throttle_key: str, count: int) -> None:
    """As the throttle records this window's sends (shared/adapters/throttle_table.py)."""
    async with TableClient.from_connection_string(storage, "throttle") as table:
        with contextlib.suppress(ResourceExistsError):
            await table.create_table()
        window = math.floor(NOW.timestamp() / 60)
        await table.create_entity({"PartitionKey": throttle_key, "RowKey": f"w{window:012d}", "count": count})


async def test_an_empty_installation_reports_zeros(stack: Stack) -> None:
    stack.clock.now = NOW
    status = await stack.batch_status.status()
    assert status["batchProcessing"] is True
    assert status["queues"] == {"interactive": 0, "batch": 0, "high": 0, "poison": 0}
    assert status["oldestQueuedAgeSeconds"] == 0 and status["countsComplete"] is True
    assert set(status["counts"]["lastDay"].values()) == {0}
    assert status["throttle"] == {
        "smtp": {"limit": 0, "usedThisMinute": 0},
        "exchange": {"limit": 0, "usedThisMinute": 0, "perMailbox": True},
    }


async def test_queues_counts_age_and_throttle_use(stack: Stack, storage: str) -> None:
    await stack.configuration.patch_parameters(
        {"batchProcessing": False, "throttling": {"enabled": True, "perMinuteLimits": {"smtp": 120}}}
    )
    await dispatch(stack, await accept_at(stack, NOW - timedelta(minutes=20)))  # Sent, last hour
    await dispatch(stack, await accept_at(stack, NOW - timedelta(hours=5)), "Failed")  # Failed, last day
    await accept_at(stack, NOW - timedelta(hours=3), mode="batch")  # Queued 3 hours: batch processing is off
    await accept_at(stack, NOW - timedelta(minutes=1), mode="batch", priority="high")
    await dispatch(stack, await accept_at(stack, NOW - timedelta(days=3)))  # older than a day: not counted
    async with QueueClient.from_connection_string(storage, "email-batch-poison") as poison:
        await poison.create_queue()
        await poison.send_message("not for us")
    await count_sent(storage, "smtp", 7)
    await count_sent(storage, "exchange:a@contoso.com", 2)
    await count_sent(storage, "exchange:b@contoso.com", 3)
    stack.clock.now = NOW

    status = await stack.batch_status.status()
    assert status["batchProcessing"] is False
    assert status["queues"] == {"interactive": 3, "batch": 1, "high": 1, "poison": 1}
    assert status["oldestQueuedAgeSeconds"] == 3 * 3600
    hour, day = status["counts"]["lastHour"], status["counts"]["lastDay"]
    assert {k: v for k, v in hour.items() if v} == {"Sent": 1, "Queued": 1}
    assert {k: v for k, v in day.items() if v} == {"Sent": 1, "Failed": 1, "Queued": 2}
    assert (status["deferred"], status["waiting"]) == (0, 0)
    assert status["throttle"]["smtp"] == {"limit": 120, "usedThisMinute": 7}
    assert status["throttle"]["exchange"] == {"limit": 30, "usedThisMinute": 5, "perMailbox": True}
