"""Three local hosts dispatch from one Azurite under a per-window limit.

What it shows: no window sends more than the limit (except emails forced after ten
deferrals); every email is sent exactly once; the backlog goes out in arrival order, within
one window (an email never goes out more than one window after one that arrived later); and
the rebalancer's plan fills each window up to the limit until the backlog is gone.
"""

from __future__ import annotations

import asyncio
import email
import math
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from azure.data.tables.aio import TableClient

from tests.support.azurite import Azurite
from tests.support.local_host import LocalHost, call, start_local_host
from tests.support.smtp_server import SmtpServerOptions, SmtpTestServer

WINDOW = 4  # seconds; production uses 60
LIMIT = 3
EMAILS = 18
ADMIN, APP = "many-admin", "many-app"


@pytest.fixture
def smtp(tls_authority: trustme.CA) -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(SmtpServerOptions(), tls_authority)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hosts(storage: str, azurite: Azurite, tmp_path: Path) -> Iterator[list[LocalHost]]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "MAILROOM_ADMIN_KEY": ADMIN,
        "MAILROOM_APP_KEY": APP,
        "MAILROOM_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "MAILROOM_PARAMETERS_CACHE_SECONDS": "0",
        "MAILROOM_THROTTLE_WINDOW_SECONDS": str(WINDOW),
        "MAILROOM_REBALANCER_SCHEDULE": f"*/{WINDOW} * * * * *",
    }
    started: list[LocalHost] = []
    try:
        for number in range(3):
            started.append(start_local_host(env, tmp_path / f"host{number}.log"))
        yield started
    finally:
        for host in started:
            host.stop()


def window_of(moment: float) -> int:
    return math.floor(moment / WINDOW)


async def test_three_instances_never_overshoot_and_send_each_email_once_in_arrival_order(
    hosts: list[LocalHost], smtp: SmtpTestServer, storage: str
) -> None:
    first = hosts[0]
    patch = {
        "smtp": {"server": "127.0.0.1", "port": smtp.port, "sslRequired": False},
        "throttling": {"enabled": True, "perMinuteLimits": {"smtp": LIMIT}},
    }
    assert (await call(first, "PATCH", "email/parameters", ADMIN, patch))[0] == 200
    assert (await call(first, "PUT", "users/erp", ADMIN, {"email": "erp@contoso.com"}))[0] == 201
    ids = []
    for number in range(EMAILS):  # in arrival order, spread over the three hosts
        body = {"user": "erp", "mode": "batch", "to": ["a@contoso.com"], "subject": f"Batch {number}"}
        status, accepted = await call(hosts[number % 3], "POST", "emails", APP, body)
        assert status == 202
        ids.append(accepted["id"])

    deadline = time.monotonic() + 90
    records: dict[str, dict[str, Any]] = {}
    while len(records) < EMAILS:
        assert time.monotonic() < deadline, f"still unsent: {sorted(set(ids) - set(records))}"
        await asyncio.sleep(0.5)
        for email_id in set(ids) - set(records):
            status, record = await call(hosts[0], "GET", f"emails/{email_id}", APP)
            if record["status"] in ("Sent", "Failed", "Unconfirmed"):
                records[email_id] = record

    assert {r["status"] for r in records.values()} == {"Sent"}
    received = Counter(email.message_from_bytes(m.content)["X-Mailroom-Id"] for m in smtp.messages)
    assert received == Counter(ids)  # each email exactly once

    forced = {i for i, r in records.items() if any("sent over the limit" in e["response"] for e in r["attemptLog"])}
    arrival = {m.content: m.received_at for m in smtp.messages}
    sent_window = {email.message_from_bytes(content)["X-Mailroom-Id"]: window_of(at) for content, at in arrival.items()}
    per_window = Counter(sent_window[i] for i in ids if i not in forced)
    # the shared counters are the slots each window gave out: never more than the limit
    async with TableClient.from_connection_string(storage, "throttle") as counters:
        query = "PartitionKey eq 'smtp' and RowKey ge 'w' and RowKey lt 'x'"
        window_slots = {e["RowKey"]: e["count"] async for e in counters.query_entities(query)}
    assert sum(window_slots.values()) == EMAILS
    assert max(window_slots.values()) <= LIMIT + len(forced), window_slots
    # the server sees an email a little after its slot was taken (more on a busy test machine),
    # so its view of any k consecutive windows allows one window more than k windows' slots
    spanned = range(min(per_window), max(per_window) + 1)
    for k in range(1, len(spanned) + 1):
        for first in spanned[: len(spanned) - k + 1]:
            sent = sum(per_window[w] for w in range(first, first + k))
            assert sent <= LIMIT * (k + 1), (k, first, per_window)

    order = [sent_window[i] for i in ids]
    inversions = [(a, b) for a in range(EMAILS) for b in range(a + 1, EMAILS) if order[a] > order[b] + 1]
    assert inversions == [], (order, inversions)

    deferred = [r for r in records.values() if r["deferrals"] > 0]
    assert len(deferred) >= EMAILS - 2 * LIMIT  # the limit really held emails back
    windows = sorted(per_window)
    full = sum(1 for count in window_slots.values() if count >= LIMIT)
    assert full >= len(window_slots) - 2, window_slots  # the backlog is spread: every window but the ends is full
    print("slots per window:", [window_slots[w] for w in sorted(window_slots)], "forced:", len(forced))
    print("server receipts per window:", [per_window[w] for w in range(windows[0], windows[-1] + 1)])
    print("deferrals:", sorted(r["deferrals"] for r in records.values()))
