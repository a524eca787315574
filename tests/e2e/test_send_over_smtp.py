"""End to end: the local host as a process over Azurite and a real SMTP server with STARTTLS
and AUTH. An email posted over HTTP arrives, and its history says so in plain words."""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
import trustme

from tests.support.azurite import Azurite, free_port
from tests.support.local_host import LocalHost, call, start_local_host
from tests.support.smtp_server import SmtpServerOptions, SmtpTestServer

ADMIN_KEY = "e2e-admin-key"
APP_KEY = "e2e-app-key"
PASSWORD = "Correct-Horse-7"


@pytest.fixture(scope="module")
def smtp(tls_authority: trustme.CA) -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(SmtpServerOptions(tls="starttls", auth=("mailer", PASSWORD)), tls_authority)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def host(azurite: Azurite, tls_authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    folder = tmp_path_factory.mktemp("e2e")
    ca_file = folder / "ca.pem"
    tls_authority.cert_pem.write_to_path(str(ca_file))
    started = start_local_host(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "MAILROOM_ADMIN_KEY": ADMIN_KEY,
            "MAILROOM_APP_KEY": APP_KEY,
            "MAILROOM_SECRETS_FILE": str(folder / "secrets.json"),
            "MAILROOM_PARAMETERS_CACHE_SECONDS": "0",
            "MAILROOM_RETRY_BASE_SECONDS": "1",
            "MAILROOM_MAX_ATTEMPTS": "2",
            "SSL_CERT_FILE": str(ca_file),  # the SMTP adapter verifies the test server like any other
        },
        folder / "host.log",
    )
    yield started
    started.stop()


async def configure(host: LocalHost, smtp_port: int, password: str, user_id: str) -> None:
    patch = {"smtp": {"server": "127.0.0.1", "port": smtp_port, "sslRequired": True, "userName": "mailer"}}
    assert (await call(host, "PATCH", "email/parameters", ADMIN_KEY, patch))[0] == 200
    assert (await call(host, "PUT", "email/parameters/smtp-password", ADMIN_KEY, {"password": password}))[0] == 204
    status, _ = await call(host, "PUT", f"users/{user_id}", ADMIN_KEY, {"email": f"{user_id}@contoso.com"})
    assert status in (200, 201)


async def send(host: LocalHost, user_id: str, subject: str) -> str:
    body = {
        "user": user_id,
        "provider": "smtp",
        "to": ["Bob <bob@example.com>"],
        "bcc": ["audit@example.com"],
        "subject": subject,
        "body": {"text": "Hello Bob", "html": "<p>Hello Bob</p>"},
    }
    status, accepted = await call(host, "POST", "emails", APP_KEY, body)
    assert status == 202, accepted
    return str(accepted["id"])


async def final_record(host: LocalHost, email_id: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        status, record = await call(host, "GET", f"emails/{email_id}", APP_KEY)
        assert status == 200
        if record["status"] in ("Sent", "Failed", "Unconfirmed"):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"email still {record['status']} after {within} s:\n{host.log()[-3000:]}")
        await asyncio.sleep(0.2)


async def test_an_email_posted_over_http_arrives_and_its_history_says_sent(
    host: LocalHost, smtp: SmtpTestServer
) -> None:
    await configure(host, smtp.port, PASSWORD, "alice")
    email_id = await send(host, "alice", "Grüße from Mailroom")
    record = await final_record(host, email_id)
    assert record["status"] == "Sent", record
    assert record["attempts"] == 1 and record["sentAt"]
    assert {r["address"]: r["status"] for r in record["recipients"]} == {
        "bob@example.com": "Accepted",
        "audit@example.com": "Accepted",
    }
    (received,) = [m for m in smtp.messages if email_id.encode() in m.content]
    assert received.tls and received.login == "mailer"
    assert received.sender == "alice@contoso.com"
    assert set(received.recipients) == {"bob@example.com", "audit@example.com"}
    message = email.message_from_bytes(received.content, policy=policy.default)
    assert message["Subject"] == "Grüße from Mailroom" and message["Bcc"] is None


async def test_a_missing_or_wrong_key_is_401_and_the_app_key_may_not_configure(host: LocalHost) -> None:
    assert (await call(host, "GET", "email/parameters", None))[0] == 401
    assert (await call(host, "GET", "email/parameters", "wrong-key"))[0] == 401
    status, body = await call(host, "GET", "email/parameters", APP_KEY)
    assert status == 403 and body["error"]["code"] == "Forbidden"
    assert (await call(host, "POST", "emails", None, {"user": "alice"}))[0] == 401


async def test_refused_credentials_fail_with_the_plain_words_of_spec(host: LocalHost, smtp: SmtpTestServer) -> None:
    await configure(host, smtp.port, "not-the-password", "carol")
    record = await final_record(host, await send(host, "carol", "Wrong password"))
    assert record["status"] == "Failed" and record["attempts"] == 1
    assert record["lastFailureMessage"].startswith(
        "The SMTP server rejected the credentials: verify the SMTP user name and password"
    )
    assert "not-the-password" not in str(record)


async def test_a_server_that_is_down_is_named_with_host_and_port(host: LocalHost) -> None:
    closed = free_port()
    await configure(host, closed, PASSWORD, "dave")
    record = await final_record(host, await send(host, "dave", "Nobody listens"))
    assert record["status"] == "Failed" and record["attempts"] == 2
    assert f"127.0.0.1:{closed}" in record["lastFailureMessage"]
    assert "gave up after 2 attempts" in record["lastFailureMessage"]
