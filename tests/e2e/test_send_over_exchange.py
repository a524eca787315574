"""End to end through Exchange: the local host as a process over Azurite, signing in with a client
secret from the secret store at a token endpoint over TLS, and sending through a Graph stand-in.
An interactive email goes as the user's own mailbox, a batch one as the batch account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.e2e.test_send_over_smtp import ADMIN_KEY, APP_KEY, call, final_record
from tests.support.azurite import Azurite
from tests.support.graph_server import CLIENT_SECRET, GraphStandIn, graph_settings
from tests.support.local_host import LocalHost, start_local_host

BATCH_ACCOUNT = "notifications@contoso.com"


@pytest.fixture(scope="module")
def graph(tls_authority: trustme.CA) -> Iterator[GraphStandIn]:
    server = GraphStandIn(tls_authority)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def host(
    azurite: Azurite, graph: GraphStandIn, tls_authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalHost]:
    folder = tmp_path_factory.mktemp("e2e-exchange")
    ca_file, secrets_file = folder / "ca.pem", folder / "secrets.json"
    tls_authority.cert_pem.write_to_path(str(ca_file))
    secrets_file.write_text(json.dumps({"graph-client-secret": CLIENT_SECRET}))
    secrets_file.chmod(0o600)
    started = start_local_host(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "MAILROOM_ADMIN_KEY": ADMIN_KEY,
            "MAILROOM_APP_KEY": APP_KEY,
            "MAILROOM_SECRETS_FILE": str(secrets_file),
            "MAILROOM_PARAMETERS_CACHE_SECONDS": "0",
            "MAILROOM_RETRY_BASE_SECONDS": "1",
            "MAILROOM_MAX_ATTEMPTS": "2",
            "SSL_CERT_FILE": str(ca_file),  # the token endpoint's certificate, verified like any other
            **graph_settings(graph),
        },
        folder / "host.log",
    )
    yield started
    started.stop()


async def admin(host: LocalHost, method: str, path: str, body: Any) -> None:
    status, answer = await call(host, method, path, ADMIN_KEY, body)
    assert status in (200, 201, 204), answer


async def post_email(host: LocalHost, **fields: Any) -> str:
    body = {
        "user": "erin",
        "to": ["Bob <bob@example.com>"],
        "bcc": ["audit@example.com"],
        "subject": "Invoice US-008",
        "body": {"text": "Attached.", "html": "<p>Attached.</p>"},
        "attachments": [{"name": "invoice.txt", "contentType": "text/plain", "contentBase64": "SGVsbG8="}],
        **fields,
    }
    status, accepted = await call(host, "POST", "emails", APP_KEY, body)
    assert status == 202, accepted
    return str(accepted["id"])


async def test_interactive_and_batch_email_through_exchange_are_both_sent(host: LocalHost, graph: GraphStandIn) -> None:
    await admin(
        host, "PATCH", "email/parameters", {"batchProvider": "exchange", "exchange": {"batchAccount": BATCH_ACCOUNT}}
    )
    await admin(host, "PUT", "users/erin", {"email": "erin@contoso.com", "name": "Erin"})

    interactive = await final_record(host, await post_email(host, provider="exchange"))
    batch = await final_record(host, await post_email(host, mode="batch"))

    assert interactive["status"] == "Sent", interactive
    assert (interactive["sender"], interactive["senderRule"]) == ("erin@contoso.com", "UserEmail")
    assert batch["status"] == "Sent", batch
    assert (batch["sender"], batch["senderRule"]) == (BATCH_ACCOUNT, "ExchangeBatchAccount")
    by_id = {s.message["internetMessageHeaders"][0]["value"]: s for s in graph.sent}
    assert by_id[interactive["id"]].mailbox == "erin@contoso.com"
    assert by_id[batch["id"]].mailbox == BATCH_ACCOUNT
    assert by_id[batch["id"]].attachments == [("invoice.txt", b"Hello")]
    assert {r["address"] for r in batch["recipients"]} == {"bob@example.com", "audit@example.com"}
    assert graph.of_kind("token") and all(
        r.headers["authorization"].startswith("Bearer token-") for r in graph.of_kind("sendMail")
    )
