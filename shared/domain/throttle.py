"""Throttle arithmetic: windows, keys, limits and the admission rule. No I/O.

Batch email is limited per provider (Exchange: per sending mailbox) and per window (a calendar
minute in production). The rebalancer publishes a plan — the deferred backlog cut into
window-sized groups in arrival order — and a dispatcher admits an email only in its planned
window, so the backlog drains oldest first and no boundary sees every deferred email at once.
"""

from __future__ import annotations

import bisect
import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.domain.history import EmailRecord
from shared.domain.parameters import EXCHANGE_ONLINE_PER_MINUTE, EmailParameters

FORCE_AFTER_DEFERRALS = 10
EXCHANGE_RECIPIENTS_PER_DAY = 10_000
PLANNED_WINDOWS = FORCE_AFTER_DEFERRALS + 1  # an email deferred longer than this is forced anyway


def window_index(moment: datetime, window_seconds: float) -> int:
    return math.floor(moment.timestamp() / window_seconds)


def window_start(index: int, window_seconds: float) -> datetime:
    return datetime.fromtimestamp(index * window_seconds, UTC)


def throttle_key(provider: str, sender: str) -> str:
    """Exchange Online limits each mailbox; an SMTP relay is limited as a whole."""
    return f"exchange:{sender.lower()}" if provider == "exchange" else provider


def limit_for(parameters: EmailParameters, provider: str) -> int | None:
    """Emails a window may send through `provider`; None when not limited."""
    throttling = parameters.document["throttling"]
    if not throttling["enabled"]:
        return None
    configured = int(throttling["perMinuteLimits"].get(provider, 0))
    if provider == "exchange":
        return min(configured, EXCHANGE_ONLINE_PER_MINUTE) if configured > 0 else EXCHANGE_ONLINE_PER_MINUTE
    return configured or None


def arrival_key(record: EmailRecord) -> str:
    """Orders the backlog: high priority first, then by acceptance time, then by id."""
    rank = "0" if record.priority == "high" else "1"
    millis = int(record.created_at.timestamp() * 1000)
    return f"{rank}{millis:014d}{record.id}"


@dataclass(frozen=True)
class Plan:
    """The backlog cut into groups of `limit` by arrival: group j goes out in window base + j."""

    base_window: int
    boundaries: tuple[str, ...]  # the arrival key of the last email of each group

    def planned_window(self, key: str) -> int | None:
        """The window an email with this arrival key is planned for; None if it is behind the plan."""
        group = bisect.bisect_left(self.boundaries, key)
        return self.base_window + group if group < len(self.boundaries) else None

    @property
    def last_window(self) -> int:
        return self.base_window + len(self.boundaries) - 1


def make_plan(backlog_in_arrival_order: list[str], *, limit: int, first_window: int) -> Plan:
    groups = [
        backlog_in_arrival_order[min(i + limit, len(backlog_in_arrival_order)) - 1]
        for i in range(0, len(backlog_in_arrival_order), limit)
    ][:PLANNED_WINDOWS]
    return Plan(base_window=first_window, boundaries=tuple(groups))


class Admission(enum.Enum):
    TRY = "try"  # contend for a slot of this window
    WAIT = "wait"  # planned for a later window: defer without taking a slot
    FORCE = "force"  # deferred ten times: sent even though the limit is reached


def admission(record: EmailRecord, plan: Plan | None, current_window: int) -> tuple[Admission, int]:
    """What to do now, and the window the email should wake in if it is deferred."""
    if record.deferrals >= FORCE_AFTER_DEFERRALS:
        return Admission.FORCE, current_window
    if plan is None or plan.last_window < current_window:
        return Admission.TRY, current_window + 1
    planned = plan.planned_window(arrival_key(record))
    if planned is None:  # newer than the backlog: queue up behind it
        return Admission.WAIT, current_window + 1
    if planned <= current_window:
        return Admission.TRY, current_window + 1
    return Admission.WAIT, current_window + 1


def wake_delay(now: datetime, *, window_seconds: float, rank_in_window: float) -> timedelta:
    """When a deferred email looks again: spread over the first half of the next window by its
    place in line (0 = first, 1 = last), and never more than one window from now."""
    next_start = window_start(window_index(now, window_seconds) + 1, window_seconds)
    target = next_start + timedelta(seconds=window_seconds * 0.5 * min(max(rank_in_window, 0.0), 1.0))
    return min(target - now, timedelta(seconds=window_seconds))
