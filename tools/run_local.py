"""`make run`: the app with its local services — Azurite, MailDev and the local Functions host.

Creates local.settings.json with fresh random keys when it is absent, keeps Azurite's data
under .local/ so a restart loses nothing, points the Email parameters at MailDev on first
start, adds a demo user, prints the URLs, the keys and a curl that sends an email, and stops
everything on Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST_PORT, SMTP_PORT, INBOX_PORT = 7071, 1025, 1080
AZURITE_PORTS = (10000, 10001, 10002)
DEMO_USER = {"userId": "demo", "email": "demo@contoso.com", "name": "Demo User"}


def ensure_local_settings(path: Path) -> dict[str, str]:
    if not path.exists():
        document = json.loads((ROOT / "local.settings.example.json").read_text())
        document["Values"]["MAILROOM_ADMIN_KEY"] = secrets.token_urlsafe(24)
        document["Values"]["MAILROOM_APP_KEY"] = secrets.token_urlsafe(24)
        path.write_text(json.dumps(document, indent=2) + "\n")
        path.chmod(0o600)
        print(f"created {path.name} with fresh random keys")
    document = json.loads(path.read_text())
    example = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    added = [name for name in example if name not in document["Values"]]
    if added:  # settings that newer versions of the app need
        document["Values"].update({name: example[name] for name in added})
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"added {', '.join(added)} to {path.name}")
    return dict(document["Values"])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(port: int, what: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if process.poll() is not None:
            raise SystemExit(f"{what} stopped before it was ready (exit code {process.returncode})")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} is not listening on 127.0.0.1:{port} after {timeout:.0f} s")
        time.sleep(0.2)


def start(command: list[str], what: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    output = open(log, "ab") if log else None  # noqa: SIM115 - lives as long as the child
    print(f"starting {what}", flush=True)
    return subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT if output else None)


def call(method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{HOST_PORT}/api/{path}",
        data=data,
        method=method,
        headers={"x-functions-key": key, "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def seed(admin_key: str) -> None:
    status, parameters = call("GET", "email/parameters", admin_key)
    if status != 200:
        raise SystemExit(f"could not read the Email parameters: {status} {parameters}")
    if not parameters["smtp"]["server"]:
        patch = {"smtp": {"server": "127.0.0.1", "port": SMTP_PORT, "sslRequired": False}}
        status, answer = call("PATCH", "email/parameters", admin_key, patch)
        print("pointed the Email parameters at MailDev" if status == 200 else f"seeding failed: {answer}")
    if call("GET", f"users/{DEMO_USER['userId']}", admin_key)[0] == 404:
        call("PUT", f"users/{DEMO_USER['userId']}", admin_key, {"email": DEMO_USER["email"], "name": DEMO_USER["name"]})
        print(f"added the demo user {DEMO_USER['userId']} <{DEMO_USER['email']}>")


def banner(values: dict[str, str]) -> str:
    send = json.dumps(
        {
            "user": DEMO_USER["userId"],
            "provider": "smtp",
            "to": ["someone@example.com"],
            "subject": "Hello from Mailroom",
            "body": {"text": "It works."},
        }
    )
    return f"""
Mailroom is ready.
  API            http://localhost:{HOST_PORT}/api
  MailDev inbox  http://localhost:{INBOX_PORT}   (SMTP on 127.0.0.1:{SMTP_PORT})
  Azurite        blobs 10000, queues 10001, tables 10002 (data in .local/azurite)
  admin key      {values["MAILROOM_ADMIN_KEY"]}
  app key        {values["MAILROOM_APP_KEY"]}

Send an email:
  curl -s -X POST http://localhost:{HOST_PORT}/api/emails \\
    -H 'x-functions-key: {values["MAILROOM_APP_KEY"]}' -H 'content-type: application/json' \\
    -d '{send}'
Then read its history (use the id it answered):
  curl -s http://localhost:{HOST_PORT}/api/emails/<id> -H 'x-functions-key: {values["MAILROOM_APP_KEY"]}'

Ctrl+C stops everything.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local", help="Azurite data, logs, secrets")
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json", help="the app settings file")
    arguments = parser.parse_args()
    state: Path = arguments.state_dir.resolve()
    (state / "azurite").mkdir(parents=True, exist_ok=True)
    settings_file = arguments.settings.resolve()
    values = ensure_local_settings(settings_file)
    busy = [p for p in (*AZURITE_PORTS, SMTP_PORT, INBOX_PORT, HOST_PORT) if port_open(p)]
    if busy:
        raise SystemExit(f"ports {busy} are in use on 127.0.0.1: stop what holds them (an earlier make run?)")
    bin_dir = ROOT / "node_modules" / ".bin"
    children: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        print("\nstopped Mailroom and its local services")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        azurite = start(
            [
                str(bin_dir / "azurite"),
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--location",
                str(state / "azurite"),
            ],
            "Azurite",
            state / "azurite.log",
        )
        children.append(azurite)
        maildev = start(
            [str(bin_dir / "maildev"), "--smtp", str(SMTP_PORT), "--web", str(INBOX_PORT), "--ip", "127.0.0.1"],
            "MailDev",
            state / "maildev.log",
        )
        children.append(maildev)
        for port in AZURITE_PORTS:
            wait_for(port, "Azurite", azurite)
        wait_for(SMTP_PORT, "MailDev", maildev)
        host = start(
            [
                sys.executable,
                "-m",
                "devhost",
                "--app-dir",
                str(ROOT),
                "--settings",
                str(settings_file),
                "--port",
                str(HOST_PORT),
            ],
            "the local Functions host",
        )
        children.append(host)
        wait_for(HOST_PORT, "the local Functions host", host)
        seed(values["MAILROOM_ADMIN_KEY"])
        print(banner(values), flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a service stopped; stopping the rest", file=sys.stderr)
        stop()
    except KeyboardInterrupt:
        stop()
    except BaseException:
        for child in children:
            if child.poll() is None:
                child.terminate()
        raise


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
