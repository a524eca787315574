"""NCRONTAB schedules, the six-field cron dialect of Azure Functions timer triggers:
`second minute hour day month day-of-week`, e.g. `0 */5 * * * *` (every five minutes).

Each field takes `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n`, `a-b/n` and `a/n`
(from a to the field's maximum), and names (`JAN`-`DEC`, `SUN`-`SAT`, full names too).
Day-of-week runs 0-6 from Sunday. As in NCrontab, a time must match *both* day-of-month and
day-of-week, so `0 0 0 13 * FRI` means Friday the 13th. Times are UTC: devhost does not
honour WEBSITE_TIME_ZONE.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_DAYS = {name.lower(): (number + 1) % 7 for number, name in enumerate(calendar.day_name)}
_DAYS.update({name.lower(): (number + 1) % 7 for number, name in enumerate(calendar.day_abbr)})
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
_SEARCH_YEARS = 28


class ScheduleError(ValueError):
    """The schedule is not a valid NCRONTAB expression."""


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) != 6:
            raise ScheduleError(
                f"{expression!r}: an NCRONTAB schedule has six fields "
                "(second minute hour day month day-of-week), e.g. '0 */5 * * * *'"
            )
        values = [_parse_field(text, *spec) for text, spec in zip(fields, _FIELDS, strict=True)]
        schedule = cls(
            expression,
            tuple(sorted(values[0])),
            tuple(sorted(values[1])),
            tuple(sorted(values[2])),
            frozenset(values[3]),
            frozenset(values[4]),
            frozenset(values[5]),
        )
        schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC))
        return schedule

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (UTC; naive times are taken as UTC)."""
        start = _as_utc(moment).replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(366 * _SEARCH_YEARS):
            if self._runs_on(day):
                earliest = (start.hour, start.minute, start.second) if day == start.date() else None
                found = self._first_time(earliest)
                if found is not None:
                    return datetime(day.year, day.month, day.day, *found, tzinfo=UTC)
            day += timedelta(days=1)
        raise ScheduleError(f"{self.expression!r} never occurs")

    def _runs_on(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7
        return day.month in self.months and day.day in self.days and weekday in self.weekdays

    def _first_time(self, earliest: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        floor = earliest or (0, 0, 0)
        for hour in self.hours:
            if hour < floor[0]:
                continue
            for minute in self.minutes:
                if (hour, minute) < floor[:2]:
                    continue
                for second in self.seconds:
                    if (hour, minute, second) >= floor:
                        return hour, minute, second
        return None


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item, name, low, high, names)
    return values


def _parse_item(item: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    span, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ScheduleError(f"{name} field: step {step_text!r} must be a positive number")
        step = int(step_text)
    if span == "*":
        first, last = low, high
    elif "-" in span:
        start, _, end = span.partition("-")
        first, last = _value(start, name, low, high, names), _value(end, name, low, high, names)
        if first > last:
            raise ScheduleError(f"{name} field: range {span!r} runs backwards")
    else:
        first = _value(span, name, low, high, names)
        last = high if step_text else first
    return set(range(first, last + 1, step))


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    key = text.strip().lower()
    if key in names:
        return names[key]
    if not key.isdigit():
        raise ScheduleError(f"{name} field: {text!r} is not a number or name")
    number = int(key)
    if not low <= number <= high:
        raise ScheduleError(f"{name} field: {number} is outside {low}-{high}")
    return number
