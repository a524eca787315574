"""NCRONTAB and TimeSpan schedules give the occurrences Azure's timer trigger would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devhost.ncrontab import CronSchedule, ScheduleError
from devhost.settings import SettingError
from devhost.timers import IntervalSchedule, parse_schedule

START = datetime(2025, 3, 14, 10, 7, 30, tzinfo=UTC)  # a Friday


def occurrences(expression: str, count: int = 3, start: datetime = START) -> list[str]:
    schedule = CronSchedule.parse(expression)
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment.strftime("%a %Y-%m-%d %H:%M:%S"))
    return found


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 */5 * * * *", ["Fri 2025-03-14 10:10:00", "Fri 2025-03-14 10:15:00", "Fri 2025-03-14 10:20:00"]),
        ("0 * * * * *", ["Fri 2025-03-14 10:08:00", "Fri 2025-03-14 10:09:00", "Fri 2025-03-14 10:10:00"]),
        ("*/20 * * * * *", ["Fri 2025-03-14 10:07:40", "Fri 2025-03-14 10:08:00", "Fri 2025-03-14 10:08:20"]),
        ("0 30 9 * * *", ["Sat 2025-03-15 09:30:00", "Sun 2025-03-16 09:30:00", "Mon 2025-03-17 09:30:00"]),
        ("0 0 3 * * MON-FRI", ["Mon 2025-03-17 03:00:00", "Tue 2025-03-18 03:00:00", "Wed 2025-03-19 03:00:00"]),
        ("0 0 9,17 * * 1,3", ["Mon 2025-03-17 09:00:00", "Mon 2025-03-17 17:00:00", "Wed 2025-03-19 09:00:00"]),
        ("0 0 0 1 JAN,jul *", ["Tue 2025-07-01 00:00:00", "Thu 2026-01-01 00:00:00", "Wed 2026-07-01 00:00:00"]),
        ("15 10-12/2 8 * * *", ["Sat 2025-03-15 08:10:15", "Sat 2025-03-15 08:12:15", "Sun 2025-03-16 08:10:15"]),
        ("0 5/20 * * * *", ["Fri 2025-03-14 10:25:00", "Fri 2025-03-14 10:45:00", "Fri 2025-03-14 11:05:00"]),
        ("0 0 0 29 2 *", ["Tue 2028-02-29 00:00:00", "Sun 2032-02-29 00:00:00", "Fri 2036-02-29 00:00:00"]),
    ],
)
def test_next_occurrences(expression: str, expected: list[str]) -> None:
    assert occurrences(expression) == expected


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    assert occurrences("0 0 0 13 * FRI", 2) == ["Fri 2025-06-13 00:00:00", "Fri 2026-02-13 00:00:00"]


def test_an_occurrence_exactly_at_the_start_is_not_repeated() -> None:
    moment = datetime(2025, 3, 14, 10, 10, 0, tzinfo=UTC)
    assert CronSchedule.parse("0 */5 * * * *").next_after(moment) == moment + timedelta(minutes=5)


def test_naive_times_are_taken_as_utc() -> None:
    naive = CronSchedule.parse("0 0 * * * *").next_after(datetime(2025, 1, 1, 10, 30))
    assert naive == datetime(2025, 1, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "*/5 * * * *",
        "0 60 * * * *",
        "0 0 25 * * *",
        "0 0 0 0 * *",
        "0 0 0 * 13 *",
        "0 */0 * * * *",
        "0 10-5 * * * *",
        "0 0 0 * * FUNDAY",
        "0 0 0 31 2 *",
    ],
)
def test_invalid_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        CronSchedule.parse(expression)


def test_setting_expression_is_resolved_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PURGE_SCHEDULE", "0 0 3 * * *")
    schedule = parse_schedule("%PURGE_SCHEDULE%")
    assert isinstance(schedule, CronSchedule)
    assert schedule.next_after(START) == datetime(2025, 3, 15, 3, 0, tzinfo=UTC)


def test_missing_setting_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_SCHEDULE", raising=False)
    with pytest.raises(SettingError, match="NO_SUCH_SCHEDULE"):
        parse_schedule("%NO_SUCH_SCHEDULE%", usage="function 'purge'")


def test_timespan_schedule_repeats_the_interval() -> None:
    schedule = parse_schedule("00:05:00")
    assert schedule == IntervalSchedule(timedelta(minutes=5))
    assert schedule.next_after(START) == START + timedelta(minutes=5)
    with pytest.raises(ScheduleError):
        parse_schedule("00:00:00")
