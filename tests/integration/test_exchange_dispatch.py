"""Email through Exchange end to end inside the services: accepted, dispatched over real storage
through the real Graph adapter to the Graph stand-in, and the history record a user then reads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from shared.adapters.dev_secrets import FileSecretStore
from shared.adapters.graph import GraphTransport
from shared.adapters.mailbox_pauses import TableMailboxPauses
from shared.bootstrap import Services, build_services
from shared.settings import load_settings
from tests.support.builders import Clock
from tests.support.graph_server import CLIENT_SECRET, GraphStandIn, Reply, graph_error, graph_settings

ALICE = "alice@contoso.com"
BATCH = "notifications@contoso.com"


@pytest.fixture(scope="module")
def graph(tls_authority: trustme.CA) -> Iterator[GraphStandIn]:
    server = GraphStandIn(tls_authority)
    server.start()
    yield server
    server.stop()


@dataclass
class Stack:
    services: Services
    graph: GraphStandIn
    clock: Clock

    async def accept(self, **changes: object) -> str:
        body: dict[str, Any] = {
            "user": "alice",
            "provider": "exchange",
            "to": ["Bob <bob@example.com>"],
            "bcc": ["audit@example.com"],
            "subject": "Invoice US-008",
            "body": {"text": "Attached.", "html": "<p>Attached.</p>"},
        }
        body.update(changes)
        return (await self.services.sending.accept(body)).id

    async def dispatch(self, email_id: str, message_id: str = "m1") -> dict[str, Any]:
        await self.services.dispatching.dispatch(json.dumps({"id": email_id}).encode(), message_id=message_id)
        found = await self.services.history.get(email_id)
        assert found is not None
        return found[0].public()


@pytest.fixture
async def stack(storage: str, tmp_path: Path, graph: GraphStandIn, tls_authority: trustme.CA) -> AsyncIterator[Stack]:
    graph.reset()
    secrets_file, ca_file = tmp_path / "secrets.json", tmp_path / "ca.pem"
    secrets_file.write_text(json.dumps({"graph-client-secret": CLIENT_SECRET}))
    tls_authority.cert_pem.write_to_path(str(ca_file))
    settings = load_settings(
        {
            "AzureWebJobsStorage": storage,
            "MAILROOM_SECRETS_FILE": str(secrets_file),
            "MAILROOM_PARAMETERS_CACHE_SECONDS": "0",
            "MAILROOM_RETRY_BASE_SECONDS": "1",
            "MAILROOM_MAX_ATTEMPTS": "3",
            "MAILROOM_GRAPH_TIMEOUT_SECONDS": "1",
            **graph_settings(graph),
        }
    )
    exchange = GraphTransport(
        settings, FileSecretStore(secrets_file), identity_options={"connection_verify": str(ca_file)}
    )
    clock = Clock()
    services = build_services(settings, exchange=exchange, clock=clock)
    await services.configuration.put_user("alice", {"email": ALICE, "name": "Alice"})
    try:
        yield Stack(services, graph, clock)
    finally:
        await services.aclose()
        await exchange.aclose()


async def test_an_interactive_email_is_sent_as_the_users_own_mailbox(stack: Stack) -> None:
    record = await stack.dispatch(await stack.accept())

    assert record["status"] == "Sent" and record["sender"] == ALICE and record["attempts"] == 1
    assert {r["address"]: r["status"] for r in record["recipients"]} == {
        "bob@example.com": "Accepted",
        "audit@example.com": "Accepted",
    }
    (sent,) = stack.graph.sent
    assert sent.mailbox == ALICE
    assert sent.message["bccRecipients"] == [{"emailAddress": {"address": "audit@example.com"}}]
    assert sent.message["internetMessageHeaders"] == [{"name": "X-Mailroom-Id", "value": record["id"]}]


async def test_a_batch_email_is_sent_as_the_batch_account(stack: Stack) -> None:
    await stack.services.configuration.patch_parameters(
        {"batchProvider": "exchange", "exchange": {"batchAccount": BATCH}}
    )

    record = await stack.dispatch(await stack.accept(mode="batch", provider=None))

    assert record["status"] == "Sent" and record["sender"] == BATCH
    assert [s.mailbox for s in stack.graph.sent] == [BATCH]


THE_MAILBOX_IS_NOT_VALID = f"The Exchange mailbox of the sender {ALICE} is not valid or not enabled for sign in"


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        (Reply(401, graph_error("InvalidAuthenticationToken", "no")), "GraphMailboxInvalid", THE_MAILBOX_IS_NOT_VALID),
        (Reply(404, graph_error("ErrorInvalidUser", "no such user")), "GraphMailboxInvalid", THE_MAILBOX_IS_NOT_VALID),
        (
            Reply(400, graph_error("MailboxNotEnabledForRESTAPI", "on-premise")),
            "GraphMailboxInvalid",
            THE_MAILBOX_IS_NOT_VALID,
        ),
        (
            Reply(403, graph_error("ErrorSendAsDenied", "send as denied")),
            "GraphSendAsDenied",
            f"The app has no permission to send as {ALICE}",
        ),
    ],
)
async def test_each_refusal_fails_at_once_in_words_the_user_can_act_on(
    stack: Stack, reply: Reply, code: str, message: str
) -> None:
    stack.graph.script("sendMail", reply)

    record = await stack.dispatch(await stack.accept())

    assert record["status"] == "Failed" and record["attempts"] == 1
    assert record["lastFailureMessage"].startswith(message)
    assert record["failureDetails"]["code"] == code
    assert str(reply.status) in record["failureDetails"]["providerResponse"]


async def test_a_large_email_without_mail_read_write_says_what_the_app_registration_needs(stack: Stack) -> None:
    stack.graph.script("draft", Reply(403, graph_error("ErrorAccessDenied", "Access is denied.")))
    scan = {"name": "scan.tif", "contentType": "image/tiff", "contentBase64": "AAAA" * 1_100_000}

    record = await stack.dispatch(await stack.accept(attachments=[scan]))

    assert record["status"] == "Failed"
    assert record["lastFailureMessage"].startswith("The app registration needs Mail.ReadWrite for emails over 4 MB")


async def test_a_429_waits_as_graph_said_and_holds_the_mailboxs_other_email_on_every_instance(stack: Stack) -> None:
    stack.graph.script("sendMail", Reply(429, graph_error("ApplicationThrottled", "slow down"), {"Retry-After": "30"}))
    first, second = await stack.accept(), await stack.accept(subject="Second")

    throttled = await stack.dispatch(first)
    held = await stack.dispatch(second)

    now = stack.clock.now
    assert throttled["status"] == "Waiting" and throttled["attempts"] == 1
    assert throttled["nextAttemptAt"] == (now + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    # the held email waits out the pause without using an attempt, and says why
    assert held["status"] == "Queued" and held["attempts"] == 0
    assert held["nextAttemptAt"] == throttled["nextAttemptAt"]
    assert "Exchange is throttling the mailbox alice@contoso.com" in held["lastFailureMessage"]
    assert len(stack.graph.of_kind("sendMail")) == 1  # the held email never reached Graph
    other_instance = TableMailboxPauses(stack.services.tables)
    assert await other_instance.paused_until(ALICE.upper()) == now + timedelta(seconds=30)

    stack.clock.now = now + timedelta(seconds=31)
    assert (await stack.dispatch(second, "m2"))["status"] == "Sent"


async def test_a_5xx_is_retried_with_backoff_then_sent(stack: Stack) -> None:
    stack.graph.script("sendMail", Reply(503, graph_error("ServiceUnavailable", "busy")))
    email_id = await stack.accept()

    waiting = await stack.dispatch(email_id)
    stack.clock.now += timedelta(seconds=2)
    sent = await stack.dispatch(email_id, "m2")

    assert waiting["status"] == "Waiting" and waiting["failureDetails"]["code"] == "GraphUnavailable"
    assert sent["status"] == "Sent" and sent["attempts"] == 2


async def test_no_answer_after_sending_is_unconfirmed_and_never_sent_again(stack: Stack) -> None:
    stack.graph.script("sendMail", Reply(202, delay=2.0))
    email_id = await stack.accept()

    record = await stack.dispatch(email_id)
    again = await stack.dispatch(email_id, "m2")

    assert record["status"] == again["status"] == "Unconfirmed"
    assert "Check the mailbox's Sent Items before resending" in record["lastFailureMessage"]
    assert len(stack.graph.of_kind("sendMail")) == 1


async def test_a_pause_keeps_the_later_time_and_takes_any_mailbox_name(stack: Stack) -> None:
    pauses = TableMailboxPauses(stack.services.tables)
    odd = '"sales/eu#1"@contoso.com'  # characters a table key cannot hold
    now = stack.clock.now

    await pauses.pause(odd, now + timedelta(seconds=60))
    await pauses.pause(odd, now + timedelta(seconds=10))  # another instance, a shorter Retry-After

    assert await pauses.paused_until(odd) == now + timedelta(seconds=60)
    assert await pauses.paused_until(ALICE) is None
