"""`python -m devhost` end to end: settings, app import, serving, and a clean stop."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import aiohttp
from azure.storage.queue.aio import QueueClient

from tests.devhost.conftest import eventually
from tests.support.azurite import free_port

ROOT = Path(__file__).resolve().parents[2]

APP = textwrap.dedent("""
    import logging
    import os

    import azure.functions as func

    app = func.FunctionApp()

    @app.route(route="settings/{name}", methods=["GET"])
    def setting(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))

    @app.queue_trigger(arg_name="msg", queue_name="cli-inbox", connection="AzureWebJobsStorage")
    def inbox(msg: func.QueueMessage) -> None:
        logging.info("inbox got %s", msg.get_body().decode())

    @app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *")
    def yearly(timer: func.TimerRequest) -> None:
        pass
""")


async def test_serves_the_app_with_local_settings_and_stops_on_sigterm(storage: str, tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(APP)
    (tmp_path / "local.settings.json").write_text(
        json.dumps(
            {
                "Values": {
                    "AzureWebJobsStorage": storage,
                    "MAILROOM_APP_KEY": "file-key",
                    "GREETING": "from-file",
                    "OVERRIDDEN": "from-file",
                }
            }
        )
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
    environment.update(OVERRIDDEN="from-environment", PYTHONPATH=str(ROOT))
    port = free_port()
    log_path = tmp_path / "host.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "devhost",
            "--app-dir",
            str(tmp_path),
            "--port",
            str(port),
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=log,
        )
    try:
        async with aiohttp.ClientSession(headers={"x-functions-key": "file-key"}) as session:

            async def read(name: str) -> tuple[int, str]:
                async with session.get(f"http://127.0.0.1:{port}/api/settings/{name}") as answer:
                    return answer.status, await answer.text()

            await eventually(lambda: "Host listening" in log_path.read_text(), message="start")
            assert await read("GREETING") == (200, "from-file")
            assert await read("OVERRIDDEN") == (200, "from-environment")
            async with session.get(
                f"http://127.0.0.1:{port}/api/settings/GREETING", headers={"x-functions-key": "other"}
            ) as refused:
                assert refused.status == 401

        async with QueueClient.from_connection_string(storage, "cli-inbox") as queue:
            await eventually(lambda: _exists(queue), message="queue created by the listener")
            await queue.send_message(base64.b64encode(b"hello").decode())
            await eventually(lambda: "inbox got hello" in log_path.read_text(), message="message")
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), timeout=10)
    output = log_path.read_text()
    assert returncode == 0, output
    assert "Functions (3):" in output and "cli-inbox" in output and "0 0 0 1 1 *" in output
    assert "Host stopped" in output


async def _exists(queue: QueueClient) -> bool:
    try:
        await queue.get_queue_properties()
    except Exception:
        return False
    return True
