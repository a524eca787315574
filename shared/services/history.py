"""The Email history as an administrator reads it: newest first, a page at a time.

A day's history is spread over SHARDS partitions whose RowKeys sort newest first, so a page is
a k-way merge of the day's partitions, then of the day before, and so on back to `since` (or
as far back as history can exist). The position where a page stopped — a day and a place in
its merged order — is the continuation token, so no page repeats or skips an email. Each
request spends at most `scan_budget` storage round trips: a filter that matches little cannot
make one request read the whole table; it answers with what it found, `scanLimited`, and a
token to go on from.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from shared.domain.email_ids import SHARDS, storage_keys
from shared.domain.history import EmailRecord
from shared.domain.history_query import (
    Cursor,
    HistoryFilter,
    Position,
    RowRange,
    day_key,
    day_of_key,
    decode_cursor,
    encode_cursor,
    parse_filter,
    parse_top,
    previous_day,
)

SCAN_BUDGET = 160  # storage round trips per request: 20 days of 8 partitions
SCAN_LIMITED = (
    "This page stopped early to keep the request short: the filter matched too little of the history "
    "searched so far. Ask again with continuationToken to search older email, or narrow since/until."
)
OLDEST_DAY_CACHE_SECONDS = 300
_CLOCK_SKEW = timedelta(minutes=5)  # another instance's clock may already be in tomorrow's partition


class HistoryRecords(Protocol):
    async def records(
        self, partition: str, rows: RowRange, query: HistoryFilter, *, size: int
    ) -> tuple[list[tuple[EmailRecord, str]], str | None]: ...

    async def oldest_partition(self) -> str | None: ...


@dataclass(frozen=True)
class Page:
    items: list[tuple[EmailRecord, str]]  # records with their ETags, newest first
    cursor: Cursor | None  # where the next page starts; None: nothing older matches
    scan_limited: bool = False


@dataclass
class _Shard:
    """One partition of the day being merged: what was read and not yet taken, and where to read on."""

    shard: int
    partition: str
    rows: RowRange
    start: Position  # the first place in merged order not yet read from this partition
    buffer: deque[tuple[str, EmailRecord, str]] = field(default_factory=deque)
    done: bool = False

    @property
    def head(self) -> Position | None:
        if self.buffer:
            return Position(self.buffer[0][0], self.shard)
        return None if self.done else self.start


class EmailHistory:
    def __init__(
        self,
        *,
        queries: HistoryRecords,
        clock: Callable[[], datetime],
        scan_budget: int = SCAN_BUDGET,
    ) -> None:
        self._queries = queries
        self._clock = clock
        self._scan_budget = max(scan_budget, SHARDS)
        self._oldest: tuple[float, date] | None = None

    async def search(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`GET /emails`: the filter, `top` and `continuationToken` from the query string."""
        query = parse_filter(params, extra=frozenset({"top", "continuationToken"}))
        token = params.get("continuationToken")
        page = await self.page(
            query, top=parse_top(params.get("top")), cursor=decode_cursor(token, query) if token else None
        )
        answer: dict[str, Any] = {"items": [record.public() for record, _ in page.items]}
        if page.cursor is not None:
            answer["continuationToken"] = encode_cursor(page.cursor, query)
        if page.scan_limited:
            answer["scanLimited"] = True
            answer["message"] = SCAN_LIMITED
        return answer

    async def page(self, query: HistoryFilter, *, top: int, cursor: Cursor | None = None) -> Page:
        now = self._clock()
        oldest = await self._oldest_day(query)
        if cursor is None:
            newest = (now + _CLOCK_SKEW).date()
            cursor = Cursor(min(query.until.date(), newest) if query.until else newest)
        day, position, budget = cursor.day, cursor.position, [self._scan_budget]
        items: list[tuple[EmailRecord, str]] = []
        while day >= oldest:
            if budget[0] < SHARDS:
                return Page(items, Cursor(day), scan_limited=True)
            found, stopped_at = await self._merge_day(day, position, query, top - len(items), budget)
            items += found
            if stopped_at is not None:
                return Page(items, Cursor(day, stopped_at), scan_limited=len(items) < top)
            day, position = previous_day(day), None
            if len(items) >= top:
                return Page(items, Cursor(day) if day >= oldest else None)
        return Page(items, None)

    async def _oldest_day(self, query: HistoryFilter) -> date:
        """The walk back stops at `since`, or at the oldest day that holds history at all. That read is
        remembered for a few minutes: new email is always newer, and after a purge a stale answer only
        means a few empty days read (the read itself scans on Azurite: 125 ms at 100,000 emails)."""
        if self._oldest is None or time.monotonic() - self._oldest[0] > OLDEST_DAY_CACHE_SECONDS:
            found = await self._queries.oldest_partition()
            if found is None:
                return date.max  # nothing yet: not remembered, the first email may come any moment
            self._oldest = (time.monotonic(), day_of_key(found))
        oldest = self._oldest[1]
        return max(oldest, query.since.date()) if query.since else oldest

    async def _merge_day(
        self, day: date, position: Position | None, query: HistoryFilter, wanted: int, budget: list[int]
    ) -> tuple[list[tuple[EmailRecord, str]], Position | None]:
        """Up to `wanted` of the day's matches in merged order, and where the merge stopped (None: day done)."""
        bounds = query.row_bounds(day)
        if bounds is None:
            return [], None
        lowest, stop = bounds
        shards = []
        for shard in range(SHARDS):
            rows, start = RowRange(lowest, False, stop), Position(lowest, shard)
            if position is not None and position.row >= lowest:
                # (row, shard) order: a lower shard's row equal to the cursor's was taken already
                rows = RowRange(position.row, shard < position.shard, stop)
                start = max(position, Position(position.row, shard))
            shards.append(_Shard(shard, f"{day_key(day)}-{shard}", rows, start))
        size = min(1000, max(10, 2 * math.ceil(wanted / SHARDS)))
        found: list[tuple[EmailRecord, str]] = []
        while len(found) < wanted:
            empty = [s for s in shards if not s.buffer and not s.done]
            if len(empty) > budget[0]:
                break
            budget[0] -= len(empty)
            await asyncio.gather(*(self._fill(s, query, size) for s in empty))
            if any(not s.buffer and not s.done for s in shards):
                continue  # a page came back empty but the partition goes on: read on before choosing
            ready = [s for s in shards if s.buffer]
            if not ready:
                return found, None
            first = min(ready, key=lambda s: (s.buffer[0][0], s.shard))
            _, record, etag = first.buffer.popleft()
            found.append((record, etag))
        heads = [head for head in (s.head for s in shards) if head is not None]
        return found, min(heads) if heads else None

    async def _fill(self, shard: _Shard, query: HistoryFilter, size: int) -> None:
        records, resume = await self._queries.records(shard.partition, shard.rows, query, size=size)
        shard.buffer.extend((storage_keys(record.id)[1], record, etag) for record, etag in records)
        shard.done = resume is None
        if resume is not None:
            shard.rows, shard.start = RowRange(resume, False, shard.rows.stop), Position(resume, shard.shard)
