"""Runs timer-triggered functions on their schedules.

A schedule is an NCRONTAB expression (`0 */5 * * * *`), a TimeSpan interval (`00:05:00`),
or `%NAME%` naming an app setting that holds either. Like the runtime, a timer never
overlaps itself: the next occurrence waits for the current invocation. When the host falls
behind — an invocation overran the next occurrence, or the machine slept — the missed
occurrences run once, at once, with `past_due=True`, and the schedule resumes from now.
Schedules are evaluated in UTC.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from azure.functions.timer import TimerRequest

from devhost.catalog import TimerFunction
from devhost.invoker import InvocationFailed, Invoker
from devhost.ncrontab import CronSchedule, ScheduleError
from devhost.settings import expand_setting_expressions
from devhost.timespan import parse_timespan

log = logging.getLogger("devhost.timers")

PAST_DUE_AFTER = timedelta(seconds=1)
_LONGEST_NAP_SECONDS = 30.0


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


def parse_schedule(text: str, *, usage: str = "a timer") -> CronSchedule | IntervalSchedule:
    resolved = expand_setting_expressions(text.strip(), usage=usage)
    if ":" in resolved and len(resolved.split()) == 1:
        interval = parse_timespan(resolved)
        if interval <= timedelta(0):
            raise ScheduleError(f"{resolved!r}: a TimeSpan schedule must be positive")
        return IntervalSchedule(interval)
    return CronSchedule.parse(resolved)


class TimerListener:
    def __init__(
        self,
        function: TimerFunction,
        schedule: Schedule,
        invoker: Invoker,
        *,
        past_due_after: timedelta = PAST_DUE_AFTER,
    ) -> None:
        self._function = function
        self._schedule = schedule
        self._invoker = invoker
        self._past_due_after = past_due_after
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.next_occurrence: datetime | None = schedule.next_after(_now())

    @property
    def function(self) -> TimerFunction:
        return self._function

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"devhost timer {self._function.name}")

    async def stop(self, *, grace: float) -> None:
        self._stopped.set()
        if self._task is None:
            return
        _, pending = await asyncio.wait({self._task}, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self) -> None:
        last: datetime | None = None
        if self._function.run_on_startup:
            last = _now()
            await self._fire(last, past_due=False, reason="Timer fired at startup (runOnStartup)")
        scheduled = self._schedule.next_after(_now())
        while True:
            self.next_occurrence = scheduled
            if not await self._sleep_until(scheduled):
                return
            late = _now() - scheduled
            past_due = late > self._past_due_after
            reason = f"Timer fired at {_now().isoformat()}"
            if past_due:
                reason += f", {late.total_seconds():.1f} s after its occurrence {scheduled.isoformat()}"
            await self._fire(scheduled, past_due=past_due, reason=reason, last=last)
            last = scheduled
            scheduled = self._schedule.next_after(_now() if past_due else scheduled)

    async def _sleep_until(self, moment: datetime) -> bool:
        """Waits for `moment` by the wall clock, which keeps time across a machine's sleep."""
        while not self._stopped.is_set():
            remaining = (moment - _now()).total_seconds()
            if remaining <= 0:
                return True
            with suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, _LONGEST_NAP_SECONDS)):
                    await self._stopped.wait()
        return False

    async def _fire(self, scheduled: datetime, *, past_due: bool, reason: str, last: datetime | None = None) -> None:
        status = {
            "Next": self._schedule.next_after(scheduled).isoformat(),
            "LastUpdated": _now().isoformat(),
        }
        if last is not None:
            status["Last"] = last.isoformat()
        request = TimerRequest(past_due=past_due, schedule_status=status, schedule={"AdjustForDST": False})
        with suppress(InvocationFailed):
            await self._invoker.invoke(self._function, request, reason=reason)


def _now() -> datetime:
    return datetime.now(UTC)
