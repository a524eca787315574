"""Timer triggers in a running host: on schedule, on startup, and past due when behind."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import azure.functions as func
import pytest

from devhost.settings import SettingError
from tests.devhost.conftest import eventually, running


def timer_app(
    schedule: str, calls: list[tuple[datetime, bool]], *, run_on_startup: bool = False, first_run_seconds: float = 0.0
) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule=schedule, run_on_startup=run_on_startup)
    async def tick(timer: func.TimerRequest) -> None:
        calls.append((datetime.now(UTC), timer.past_due))
        if len(calls) == 1:
            await asyncio.sleep(first_run_seconds)

    return app


async def test_runs_on_each_occurrence_at_the_scheduled_second(tmp_path: Path) -> None:
    calls: list[tuple[datetime, bool]] = []
    async with running(timer_app("* * * * * *", calls), tmp_path):
        await eventually(lambda: len(calls) >= 2, within=4, message="two occurrences")
    first, second = calls[0][0], calls[1][0]
    assert round((second - first).total_seconds()) == 1
    assert all(at.microsecond < 500_000 for at, _ in calls[:2])
    assert [past_due for _, past_due in calls[:2]] == [False, False]


async def test_run_on_startup_runs_once_at_start(tmp_path: Path) -> None:
    calls: list[tuple[datetime, bool]] = []
    started = datetime.now(UTC)
    async with running(timer_app("0 0 0 1 1 *", calls, run_on_startup=True), tmp_path):
        await eventually(lambda: bool(calls), within=2, message="startup run")
        await asyncio.sleep(0.2)
    assert len(calls) == 1
    assert calls[0][1] is False
    assert (calls[0][0] - started).total_seconds() < 1


async def test_an_occurrence_missed_while_running_fires_once_past_due(tmp_path: Path) -> None:
    calls: list[tuple[datetime, bool]] = []
    app = timer_app("* * * * * *", calls, first_run_seconds=2.3)
    async with running(app, tmp_path):
        await eventually(lambda: len(calls) >= 3, within=6, message="three invocations")
    assert [past_due for _, past_due in calls[:3]] == [False, True, False]
    assert (calls[2][0] - calls[1][0]).total_seconds() < 1.1


async def test_schedule_from_a_missing_setting_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICK_SCHEDULE", raising=False)
    with pytest.raises(SettingError, match="TICK_SCHEDULE"):
        async with running(timer_app("%TICK_SCHEDULE%", []), tmp_path):
            pass


async def test_stop_waits_for_a_running_invocation(tmp_path: Path) -> None:
    calls: list[tuple[datetime, bool]] = []
    finished: list[float] = []
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
    def slow(timer: func.TimerRequest) -> None:
        calls.append((datetime.now(UTC), timer.past_due))
        time.sleep(0.5)
        finished.append(time.monotonic())

    async with running(app, tmp_path):
        await eventually(lambda: bool(calls), within=2, message="startup run")
    assert finished, "the host stopped before the invocation finished"
