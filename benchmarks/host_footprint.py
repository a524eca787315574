"""Memory and end-to-end throughput of one local host: HTTP in, queue, SMTP out.

    .venv/bin/python -m benchmarks.host_footprint [--emails 300]

Starts its own in-memory Azurite, an aiosmtpd sink and one local Functions host process
(`python -m devhost`), posts `--emails` interactive emails over HTTP as fast as the host
accepts them, waits until the last is Sent, and prints the host's resident memory (idle after
start-up, and after the run) and the emails a minute from the first post to the last Sent.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import trustme

from tests.support.azurite import start_azurite
from tests.support.local_host import start_local_host
from tests.support.smtp_server import SmtpServerOptions, SmtpTestServer

ADMIN, APP = "bench-admin", "bench-app"


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def run(emails: int) -> None:
    azurite = start_azurite()
    smtp = SmtpTestServer(SmtpServerOptions(), trustme.CA())
    smtp.start()
    folder = Path(tempfile.mkdtemp())
    host = start_local_host(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "MAILROOM_ADMIN_KEY": ADMIN,
            "MAILROOM_APP_KEY": APP,
            "MAILROOM_SECRETS_FILE": str(folder / "secrets.json"),
        },
        folder / "host.log",
    )
    try:
        async with aiohttp.ClientSession(headers={"x-functions-key": ADMIN}) as admin:
            patch = {"smtp": {"server": "127.0.0.1", "port": smtp.port, "sslRequired": False}}
            await (await admin.patch(f"{host.url}/email/parameters", json=patch)).read()
            await (await admin.put(f"{host.url}/users/bench", json={"email": "bench@contoso.com"})).read()
        await asyncio.sleep(2)
        idle = resident_mib(host.process.pid)
        body = {
            "user": "bench",
            "provider": "smtp",
            "to": ["a@contoso.com"],
            "subject": "benchmark",
            "body": {"text": "x" * 2000},
        }
        started = time.perf_counter()
        async with aiohttp.ClientSession(headers={"x-functions-key": APP}) as app:
            gate = asyncio.Semaphore(16)

            async def post() -> None:
                async with gate, app.post(f"{host.url}/emails", json=body) as response:
                    assert response.status == 202, await response.text()

            await asyncio.gather(*(post() for _ in range(emails)))
            accepted = time.perf_counter() - started
            while len(smtp.messages) < emails:  # noqa: ASYNC110 - the server runs in its own thread
                await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        busy = resident_mib(host.process.pid)
        print(f"host memory: {idle:.0f} MiB idle after start-up, {busy:.0f} MiB after {emails} emails")
        print(f"accepted {emails} emails over HTTP in {accepted:.1f} s ({emails / accepted * 60:,.0f} a minute)")
        print(f"all delivered to the SMTP server in {elapsed:.1f} s ({emails / elapsed * 60:,.0f} emails a minute)")
    finally:
        host.stop()
        smtp.stop()
        azurite.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=300)
    asyncio.run(run(parser.parse_args().emails))


if __name__ == "__main__":
    main()
