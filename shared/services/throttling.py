"""The per-window limit on batch email, shared by every instance, and its rebalancer."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.history import EmailRecord
from shared.domain.parameters import EmailParameters
from shared.domain.throttle import (
    EXCHANGE_RECIPIENTS_PER_DAY,
    PLANNED_WINDOWS,
    Admission,
    Plan,
    admission,
    arrival_key,
    limit_for,
    make_plan,
    throttle_key,
    wake_delay,
    window_index,
)
from shared.ports import ThrottleStore

log = logging.getLogger(__name__)
COUNTER_WINDOWS_KEPT = 120  # two hours of minutes: what the status page and a post-mortem look at
MAX_RESERVED = 16  # slots one worker takes at once for dispatches waiting together
STALE_AFTER_WINDOWS = 3  # a deferred email looks again within one window and rejoins the line


@dataclass(frozen=True)
class Decision:
    defer_for: timedelta | None = None  # None: send now
    note: str | None = None  # what the history's attempt log should say about it


class Throttling:
    def __init__(self, *, store: ThrottleStore, clock: Callable[[], datetime], window_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._window = window_seconds
        self._plans: dict[str, tuple[int, Plan | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._reserved: dict[str, tuple[int, int]] = {}  # slots this worker took and has not used yet
        self._full: dict[str, int] = {}  # the window a key was last found full in

    async def admit(self, record: EmailRecord, parameters: EmailParameters) -> Decision:
        """Send now, or defer: interactive email and unlimited providers always send."""
        limit = limit_for(parameters, record.provider)
        if record.mode != "batch" or limit is None:
            return Decision()
        key = throttle_key(record.provider, record.sender)
        now = self._clock()
        current = window_index(now, self._window)
        step, _ = admission(record, await self._plan(key, current), current)
        note = None
        if step is Admission.FORCE:
            await self._take_slot(key, current, limit, force=True)
            note = f"sent over the limit of {limit} a minute after {record.deferrals} deferrals"
        elif step is Admission.WAIT or not await self._take_slot(key, current, limit):
            await self._store.join_backlog(key, arrival_key(record), record.id, now)
            spread = int(hashlib.sha256(record.id.encode()).hexdigest()[:4], 16) / 0xFFFF
            return Decision(
                defer_for=wake_delay(now, window_seconds=self._window, rank_in_window=spread),
                note=f"the limit of {limit} a minute for {key} is reached",
            )
        if record.provider == "exchange":
            total = await self._store.add_recipients(key, f"{now:%Y%m%d}", len(record.envelope_recipients))
            if total > EXCHANGE_RECIPIENTS_PER_DAY:
                log.warning("mailbox %s has sent to %d recipients today", record.sender, total)
                note = (note + "; " if note else "") + (
                    f"{record.sender} has sent to {total:,} recipients today, over Exchange Online's "
                    f"{EXCHANGE_RECIPIENTS_PER_DAY:,} a day"
                )
        return Decision(note=note)

    async def leave_backlog(self, record: EmailRecord) -> None:
        """A deferred email that reached a final status no longer holds a place in line."""
        if record.deferrals:
            await self._store.leave_backlog(throttle_key(record.provider, record.sender), arrival_key(record))

    async def used_now(self, key: str) -> int:
        return await self._store.used(key, window_index(self._clock(), self._window))

    async def rebalance(self, parameters: EmailParameters) -> dict[str, int]:
        """Plans each key's backlog over the coming windows in arrival order; drops old counters.

        Safe to run on several instances at once: each writes the same plan from the same backlog.
        """
        now = self._clock()
        current = window_index(now, self._window)
        planned: dict[str, int] = {}
        for key in sorted(await self._store.keys()):
            provider = key.split(":", 1)[0]
            limit = limit_for(parameters, provider)
            live_since = now - timedelta(seconds=self._window * STALE_AFTER_WINDOWS)
            backlog = await self._store.backlog(key, limit * PLANNED_WINDOWS, live_since=live_since) if limit else []
            plan = make_plan(backlog, limit=limit, first_window=current) if limit and backlog else None
            await self._store.save_plan(key, plan)
            await self._store.remove_counters_before(
                key, current - COUNTER_WINDOWS_KEPT, f"{now - timedelta(days=2):%Y%m%d}"
            )
            planned[key] = len(backlog)
        if planned:
            log.info("throttle rebalanced: %s", ", ".join(f"{k} {n} deferred" for k, n in planned.items()))
        return planned

    async def _take_slot(self, key: str, window: int, limit: int, *, force: bool = False) -> bool:
        """A slot for one email. Concurrent dispatches in this worker do not race each other on
        the shared counter: one of them takes slots for all that are waiting, in one write, and
        the others use the ones it reserved; so only instances contend for the counter."""
        if force:
            async with self._locks.setdefault(key, asyncio.Lock()):
                return await self._store.take_slots(key, window, limit, 1, force=True) == 1
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with self._locks.setdefault(key, asyncio.Lock()):
                if self._use_reserved(key, window):
                    return True
                if self._full.get(key) == window:
                    return False
                want = min(self._waiting[key], MAX_RESERVED)
                granted = await self._store.take_slots(key, window, limit, want)
                if granted == 0:
                    self._full[key] = window
                    return False
                self._reserved[key] = (window, granted - 1)
                return True
        finally:
            self._waiting[key] -= 1

    def _use_reserved(self, key: str, window: int) -> bool:
        reserved_window, left = self._reserved.get(key, (window, 0))
        if reserved_window != window or left == 0:
            return False
        self._reserved[key] = (window, left - 1)
        return True

    async def _plan(self, key: str, current: int) -> Plan | None:
        cached = self._plans.get(key)
        if cached is None or cached[0] != current:
            cached = self._plans[key] = (current, await self._store.plan(key))
        return cached[1]
