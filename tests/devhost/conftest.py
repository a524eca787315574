"""Helpers for the devhost tests: app folders with a chosen host.json, a running Host, and
polling with a deadline instead of fixed sleeps."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.functions.decorators.function_app import FunctionRegister

from devhost import Host

ADMIN_KEY = "admin-key-for-tests"
APP_KEY = "app-key-for-tests"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("MAILROOM_APP_KEY", APP_KEY)


def write_host_json(directory: Path, *, route_prefix: str | None = None, **queues: Any) -> Path:
    """An app folder whose host.json holds `queues` under extensions.queues."""
    extensions: dict[str, Any] = {"queues": queues}
    if route_prefix is not None:
        extensions["http"] = {"routePrefix": route_prefix}
    (directory / "host.json").write_text(json.dumps({"version": "2.0", "extensions": extensions}))
    return directory


@asynccontextmanager
async def running(
    app: FunctionRegister,
    app_dir: Path,
    *,
    queue_lease: timedelta = timedelta(minutes=10),
    shutdown_grace: float = 2.0,
) -> AsyncIterator[Host]:
    host = Host(app, app_dir, port=0, queue_lease=queue_lease, shutdown_grace=shutdown_grace)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]],
    *,
    within: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> None:
    """Waits until `check()` is true, failing the test after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {within} s")
        await asyncio.sleep(interval)
