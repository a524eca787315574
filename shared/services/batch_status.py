"""The Batch email sending status: is batch processing on, how much is waiting and for how long,
what happened over the last hour and day, and how much of each provider's limit this minute used.

The counts come from one read of the last 24 hours of history (keys and status only, in the
day partitions that hold them); the oldest waiting email from the front of each queue and from
that same read (a batch email waiting while batch processing is off is not always at the front).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.domain.email_ids import SHARDS
from shared.domain.history import EmailRecord, Status
from shared.domain.history_query import HistoryFilter, Row, RowRange, day_key
from shared.domain.queues import BATCH, BATCH_HIGH, INTERACTIVE, POISON_SUFFIX
from shared.domain.throttle import limit_for
from shared.errors import NotFound
from shared.ports import HistoryStore
from shared.services.configuration import Configuration

WAITING_STATUSES = (Status.QUEUED, Status.DEFERRED, Status.WAITING)
MAX_PAGES_PER_PARTITION = 100  # 100,000 emails a partition, 800,000 a day: beyond, counts say incomplete
PROVIDERS = ("smtp", "exchange")


class ThrottleUsage(Protocol):
    """Emails sent through a provider in the current throttle window (Exchange: all its mailboxes)."""

    async def used_this_minute(self, provider: str) -> int: ...


class QueueDepths(Protocol):
    async def depth(self, queue: str) -> int: ...


class QueueFront(Protocol):
    async def email_ids(self, queue: str, *, count: int = ...) -> list[str]: ...


class HistoryRows(Protocol):
    async def rows(
        self, partition: str, rows: RowRange = ..., *, statuses: tuple[Status, ...] = (), size: int = ...
    ) -> tuple[list[Row], str | None]: ...


class BatchStatus:
    def __init__(
        self,
        *,
        configuration: Configuration,
        depths: QueueDepths,
        front: QueueFront,
        rows: HistoryRows,
        history: HistoryStore,
        throttle: ThrottleUsage,
        clock: Callable[[], datetime],
    ) -> None:
        self._configuration = configuration
        self._depths = depths
        self._front = front
        self._rows = rows
        self._history = history
        self._throttle = throttle
        self._clock = clock

    async def status(self) -> dict[str, Any]:
        now = self._clock()
        parameters = await self._configuration.parameters()
        queues = (INTERACTIVE, BATCH, BATCH_HIGH)
        depths, (hour, day, oldest, complete), at_front, used = await asyncio.gather(
            asyncio.gather(*(self._depths.depth(q) for q in (*queues, *(q + POISON_SUFFIX for q in queues)))),
            self._counts(now),
            self._oldest_at_front(queues),
            asyncio.gather(*(self._throttle.used_this_minute(p) for p in PROVIDERS)),
        )
        waiting_since = min((moment for moment in (oldest, at_front) if moment is not None), default=None)
        return {
            "batchProcessing": parameters.batch_processing,
            "queues": {"interactive": depths[0], "batch": depths[1], "high": depths[2], "poison": sum(depths[3:])},
            "oldestQueuedAgeSeconds": _age_seconds(now, waiting_since),
            "counts": {"lastHour": _by_status(hour), "lastDay": _by_status(day)},
            "countsComplete": complete,
            "deferred": day[Status.DEFERRED],
            "waiting": day[Status.WAITING],
            "throttle": {
                provider: {
                    "limit": limit_for(parameters, provider) or 0,
                    "usedThisMinute": count,
                    **({"perMailbox": True} if provider == "exchange" else {}),
                }
                for provider, count in zip(PROVIDERS, used, strict=True)
            },
            "at": now.isoformat().replace("+00:00", "Z"),
        }

    async def _counts(self, now: datetime) -> tuple[Counter[Status], Counter[Status], datetime | None, bool]:
        """Statuses of the email accepted in the last hour and day, the oldest of it still waiting, and
        whether every partition was read to its end."""
        window = HistoryFilter(since=now - timedelta(days=1), until=now)
        days = sorted({(now - timedelta(days=1)).date(), now.date()})
        found = await asyncio.gather(
            *(self._partition(f"{day_key(d)}-{s}", window.row_bounds(d)) for d in days for s in range(SHARDS))
        )
        hour, day, oldest, complete = Counter[Status](), Counter[Status](), None, True
        for rows, read_all in found:
            complete = complete and read_all
            for row in rows:
                if row.created_at < now - timedelta(days=1):
                    continue
                day[row.status] += 1
                if row.created_at >= now - timedelta(hours=1):
                    hour[row.status] += 1
                if row.status in WAITING_STATUSES and (oldest is None or row.waiting_since < oldest):
                    oldest = row.waiting_since
        return hour, day, oldest, complete

    async def _partition(self, partition: str, bounds: tuple[str, str | None] | None) -> tuple[list[Row], bool]:
        if bounds is None:
            return [], True
        rows: list[Row] = []
        resume: str | None = bounds[0]
        for _ in range(MAX_PAGES_PER_PARTITION):
            page, resume = await self._rows.rows(partition, RowRange(resume or "", False, bounds[1]))
            rows += page
            if resume is None:
                return rows, True
        return rows, False

    async def _oldest_at_front(self, queues: tuple[str, ...]) -> datetime | None:
        fronts = await asyncio.gather(*(self._front.email_ids(q) for q in queues))
        records = await asyncio.gather(*(self._record(email_id) for ids in fronts for email_id in ids))
        waiting = [found[0].waiting_since for found in records if found is not None and not found[0].status.is_final]
        return min(waiting, default=None)

    async def _record(self, email_id: str) -> tuple[EmailRecord, str] | None:
        try:
            return await self._history.get(email_id)
        except NotFound:
            return None  # not an id of ours: the dispatcher drops that message


def _age_seconds(now: datetime, since: datetime | None) -> int:
    return 0 if since is None else max(0, int((now - since).total_seconds()))


def _by_status(counts: Counter[Status]) -> dict[str, int]:
    return {str(status): counts[status] for status in Status}
