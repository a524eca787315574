"""The retention purge (daily timer): history older than `historyRetentionDays` goes, with its
content and its idempotency keys; email not yet final never goes, it expires first.

Whole day partitions are walked oldest first, several at once. For each page of a partition:
1. unfinished email waiting longer than `expirationDays` is swept to `Expired` (or, if it was
   being sent, `Unconfirmed`) — so an email whose queue message was lost still expires. It is
   kept this run, for an administrator to see; the next run purges it.
2. final email older than the cutoff loses its idempotency keys, then its content blobs, then
   its records (transactions of up to 100, each delete conditioned on the ETag just read).
Blobs go before records, so a purge stopped half-way can only leave a final record without its
content: harmless (resend answers 422) and found and deleted by the next run. A record changed
since it was read (e.g. resent) is not deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.email_ids import SHARDS
from shared.domain.history import FailureDetails, IllegalTransition, Status
from shared.domain.history_query import Row, RowRange, day_key, day_of_key
from shared.errors import DependencyUnavailable
from shared.ports import HistoryStore, StaleWrite
from shared.services.configuration import Configuration
from shared.services.dispatching import INTERRUPTED

log = logging.getLogger(__name__)

UNFINISHED = (Status.QUEUED, Status.DEFERRED, Status.WAITING, Status.SENDING)
PARTITION_ATTEMPTS = 3


class HistoryRows(Protocol):
    async def rows(
        self, partition: str, rows: RowRange = ..., *, statuses: tuple[Status, ...] = (), size: int = ...
    ) -> tuple[list[Row], str | None]: ...

    async def oldest_partition(self) -> str | None: ...

    async def delete(self, rows: list[Row]) -> int: ...


class ContentBatches(Protocol):
    async def delete_many(self, email_ids: Sequence[str]) -> None: ...


class IdempotencyCleanup(Protocol):
    async def forget(self, user: str, key: str, email_id: str) -> bool: ...


@dataclass
class PurgeReport:
    cutoff: datetime  # final email created before this goes
    expire_before: datetime  # unfinished email waiting since before this expires
    expiration_days: int
    deleted: int = 0
    expired: int = 0
    partitions: int = 0


class Retention:
    def __init__(
        self,
        *,
        rows: HistoryRows,
        history: HistoryStore,
        content: ContentBatches,
        idempotency: IdempotencyCleanup,
        configuration: Configuration,
        clock: Callable[[], datetime],
        concurrency: int = 8,
    ) -> None:
        self._rows = rows
        self._history = history
        self._content = content
        self._idempotency = idempotency
        self._configuration = configuration
        self._clock = clock
        self._concurrency = concurrency

    async def purge(self) -> PurgeReport:
        now = self._clock()
        parameters = await self._configuration.parameters_uncached()
        cutoff = now - timedelta(days=parameters.history_retention_days)
        expire_before = now - timedelta(days=parameters.expiration_days)
        report = PurgeReport(cutoff, expire_before, parameters.expiration_days)
        oldest = await self._rows.oldest_partition()
        if oldest is None:
            return report
        first, last = day_of_key(oldest), max(cutoff, expire_before).date()
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        gate = asyncio.Semaphore(self._concurrency)

        async def one(partition: str, deletes: bool) -> None:
            """A partition is read again from its start after a storage hiccup: every step is safe to repeat."""
            async with gate:
                for attempt in range(PARTITION_ATTEMPTS):
                    try:
                        await self._partition(partition, deletes, report)
                        report.partitions += 1
                        return
                    except DependencyUnavailable:
                        if attempt == PARTITION_ATTEMPTS - 1:
                            raise
                        await asyncio.sleep(1)

        outcomes = await asyncio.gather(
            *(one(f"{day_key(day)}-{shard}", day <= cutoff.date()) for day in days for shard in range(SHARDS)),
            return_exceptions=True,  # one partition's trouble does not stop the others
        )
        log.info(
            "retention purge: deleted %d emails created before %s (%d partitions read), expired %d unsent",
            report.deleted,
            cutoff.isoformat(),
            report.partitions,
            report.expired,
        )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            log.error("retention purge: %d partitions failed; the next run takes them up again", len(failures))
            raise failures[0]
        return report

    async def _partition(self, partition: str, deletes: bool, report: PurgeReport) -> None:
        """A day after the cutoff holds nothing to delete: only its unfinished email is read."""
        statuses = () if deletes else UNFINISHED
        resume: str | None = ""
        while resume is not None:
            page, resume = await self._rows.rows(partition, RowRange(resume), statuses=statuses)
            # partitions run concurrently: await first, then add (`x += await ...` would lose counts)
            for row in page:
                if not row.status.is_final and row.waiting_since < report.expire_before:
                    expired = await self._expire(row, report.expiration_days)
                    report.expired += expired
            doomed = [row for row in page if row.status.is_final and row.created_at < report.cutoff]
            if doomed:
                deleted = await self._delete(partition, doomed)
                report.deleted += deleted

    async def _delete(self, partition: str, rows: list[Row]) -> int:
        keyed = [row for row in rows if row.idempotency_key]
        await asyncio.gather(
            self._content.delete_many([row.email_id for row in rows]),
            *(self._idempotency.forget(r.user, r.idempotency_key or "", r.email_id) for r in keyed),
        )
        deleted = await self._rows.delete(rows)  # only once content and keys are gone
        log.info("purged %d emails of partition %s: %s … %s", deleted, partition, rows[0].email_id, rows[-1].email_id)
        return deleted

    async def _expire(self, row: Row, expiration_days: int) -> int:
        """1 if the email was moved on now; 0 if it changed meanwhile (its dispatcher got there first)."""
        found = await self._history.get(row.email_id)
        if found is None or found[0].status.is_final:
            return 0
        record, etag = found
        now = self._clock()
        try:
            if record.status is Status.SENDING:
                moved = record.moved_to(
                    Status.UNCONFIRMED,
                    now,
                    claimed_by=None,
                    claimed_at=None,
                    last_failure_message=INTERRUPTED,
                    failure_details=FailureDetails("DispatcherInterrupted", "", now),
                )
            else:
                moved = record.moved_to(
                    Status.EXPIRED,
                    now,
                    next_attempt_at=None,
                    last_failure_message=(
                        f"Not sent within {expiration_days} days (the Email parameters' expiration), so it will not be "
                        "sent: its queue message was lost or never processed. Resend it if it is still wanted"
                    ),
                    failure_details=FailureDetails("Expired", "", now),
                )
            await self._history.replace(moved, etag)
        except (StaleWrite, IllegalTransition):
            return 0
        log.info("email %s was %s since %s: now %s", record.id, record.status, record.waiting_since, moved.status)
        return 1
