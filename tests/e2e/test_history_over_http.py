"""End to end through the local host's real route table: `GET /api/emails/status` reaches the
status function (not `emails/{id}`), and an email sent over HTTP is found in the history."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.azurite import Azurite
from tests.support.local_host import LocalHost, call, start_local_host

ADMIN_KEY = "history-admin-key"
APP_KEY = "history-app-key"


@pytest.fixture(scope="module")
def host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    folder: Path = tmp_path_factory.mktemp("history-e2e")
    started = start_local_host(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "MAILROOM_ADMIN_KEY": ADMIN_KEY,
            "MAILROOM_APP_KEY": APP_KEY,
            "MAILROOM_SECRETS_FILE": str(folder / "secrets.json"),
        },
        folder / "host.log",
    )
    yield started
    started.stop()


async def test_the_status_route_is_not_taken_for_an_email_id(host: LocalHost) -> None:
    status, report = await call(host, "GET", "emails/status", ADMIN_KEY)
    assert status == 200, report
    assert set(report) >= {"batchProcessing", "queues", "oldestQueuedAgeSeconds", "counts", "throttle"}
    status, error = await call(host, "GET", "emails/status", APP_KEY)
    assert status == 403 and error["error"]["code"] == "Forbidden"  # get_email would have said 404


async def test_an_email_sent_over_http_is_listed_and_resent_by_filter(host: LocalHost) -> None:
    assert (await call(host, "PUT", "users/erin", ADMIN_KEY, {"email": "erin@contoso.com"}))[0] in (200, 201)
    reference = f"E2E/{secrets.token_hex(4)}"
    body = {"user": "erin", "provider": "eml", "to": ["bob@example.com"], "subject": "Draft", "reference": reference}
    assert (await call(host, "POST", "emails", APP_KEY, body))[0] == 200  # an .eml: Generated at once
    status, page = await call(host, "GET", f"emails?reference={reference}&top=5", ADMIN_KEY)
    assert status == 200 and [item["status"] for item in page["items"]] == ["Generated"]
    status, counted = await call(host, "POST", "emails/resend", ADMIN_KEY, {"reference": reference})
    assert (status, counted["queued"]) == (200, 0)
