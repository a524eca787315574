"""`make run` as a person uses it: it reaches ready, the curl it prints delivers an email to
MailDev's inbox, the history says Sent, a missing key is refused, and Ctrl+C stops it all."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.azurite import ROOT

PORTS = (7071, 1025, 1080, 10000, 10001, 10002)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def get(url: str, key: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"x-functions-key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    busy = [port for port in PORTS if listening(port)]
    if busy:
        pytest.skip(f"make run's fixed ports {busy} are taken on this machine (is make run already running?)")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.run_local",
            "--state-dir",
            str(tmp_path / "state"),
            "--settings",
            str(tmp_path / "local.settings.json"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl+C stops everything"):
            break
    try:
        assert any(line == "Mailroom is ready." for line in lines), "\n".join(lines)
        yield process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def printed_curl(lines: list[str]) -> str:
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("curl -s -X POST"))
    command = []
    for line in lines[start:]:
        command.append(line.strip().removesuffix("\\"))
        if not line.endswith("\\"):
            break
    return " ".join(command)


def test_make_run_reaches_ready_and_its_curl_delivers_to_maildev(
    make_run: tuple[subprocess.Popen[str], list[str]], tmp_path: Path
) -> None:
    process, lines = make_run
    app_key = next(line.split()[-1] for line in lines if line.strip().startswith("app key"))
    settings = json.loads((tmp_path / "local.settings.json").read_text())["Values"]
    assert settings["MAILROOM_APP_KEY"] == app_key and len(app_key) >= 24

    answer = subprocess.run(["bash", "-c", printed_curl(lines)], capture_output=True, text=True, timeout=30)
    accepted = json.loads(answer.stdout)
    assert accepted["status"] == "Queued"

    deadline = time.monotonic() + 30
    while (record := get(f"http://127.0.0.1:7071/api/emails/{accepted['id']}", app_key)[1])["status"] != "Sent":
        assert time.monotonic() < deadline, record
        time.sleep(0.3)
    status, inbox = get("http://127.0.0.1:1080/email")
    assert status == 200
    assert [m["subject"] for m in inbox] == ["Hello from Mailroom"]
    assert inbox[0]["to"][0]["address"] == "someone@example.com"

    assert get(f"http://127.0.0.1:7071/api/emails/{accepted['id']}")[0] == 401

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    time.sleep(0.5)
    assert [port for port in PORTS if listening(port)] == []
