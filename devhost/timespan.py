"""Parses .NET TimeSpan strings, the format host.json and timer schedules use for durations.

Azure reads these with `TimeSpan.Parse`, so `"00:00:02"` is two seconds while a bare number
such as `"2000"` would be 2,000 *days*; devhost accepts the same shapes and nothing looser.
"""

from __future__ import annotations

import re
from datetime import timedelta

_TIMESPAN = re.compile(
    r"^(?P<sign>-)?(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2})"
    r"(?::(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d{1,7}))?)?$"
)
_DAYS_ONLY = re.compile(r"^(?P<sign>-)?(?P<days>\d+)$")


def parse_timespan(text: str) -> timedelta:
    """`[-][d.]hh:mm[:ss[.fffffff]]` or `[-]d`, as `TimeSpan.Parse` reads them."""
    value = text.strip()
    days_only = _DAYS_ONLY.match(value)
    if days_only:
        days = int(days_only["days"])
        return -timedelta(days=days) if days_only["sign"] else timedelta(days=days)
    match = _TIMESPAN.match(value)
    if not match:
        raise ValueError(f"{text!r} is not a TimeSpan such as '00:00:02' or '1.00:00:00'")
    hours, minutes = int(match["hours"]), int(match["minutes"])
    seconds = int(match["seconds"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{text!r} is not a TimeSpan: hours ≤ 23, minutes and seconds ≤ 59")
    fraction = (match["fraction"] or "").ljust(7, "0")
    span = timedelta(
        days=int(match["days"] or 0),
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        microseconds=int(fraction) // 10,
    )
    return -span if match["sign"] else span
