"""The local Functions host started as a process over the app, as `make run` starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.azurite import ROOT, free_port, wait_for_port

# the app's timers take their schedules from settings, as on Azure; CI has no local.settings.json
TIMER_SCHEDULES = {"MAILROOM_REBALANCER_SCHEDULE": "0 * * * * *", "MAILROOM_PURGE_SCHEDULE": "0 30 2 * * *"}


@dataclass
class LocalHost:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_local_host(env: Mapping[str, str], log_path: Path, *, timeout: float = 60) -> LocalHost:
    port = free_port()
    handle = open(log_path, "wb")  # noqa: SIM115 - the child writes to it until stopped
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "--app-dir", str(ROOT), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **TIMER_SCHEDULES, **env, "PYTHONUNBUFFERED": "1"},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local host exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            wait_for_port(port, timeout=0.5)
            return LocalHost(process, port, log_path)
        except TimeoutError:
            continue
    process.kill()
    raise TimeoutError(f"the local host did not listen within {timeout} s:\n{log_path.read_text()}")


async def call(host: LocalHost, method: str, path: str, key: str | None = None, body: Any = None) -> tuple[int, Any]:
    """One request to the local host, as a client would send it: JSON answers decoded."""
    headers = {"x-functions-key": key} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{host.url}/{path}", json=body, headers=headers) as response,
    ):
        raw = await response.read()
        if response.content_type == "application/json" and raw:
            return response.status, json.loads(raw)
        return response.status, raw or None
