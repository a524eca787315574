"""The Exchange adapter through the real msgraph-sdk and azure-identity request path, against a
Graph stand-in on 127.0.0.1: the exact requests it makes, and what each answer becomes."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme

from shared.adapters.dev_secrets import FileSecretStore
from shared.adapters.graph import GraphTransport
from shared.adapters.graph_uploads import CHUNK_BYTES
from shared.domain.addresses import parse_address
from shared.domain.delivery import DeliveryResult, Outcome, RecipientStatus
from shared.domain.mime import Attachment, MessageContent, build_mime
from shared.domain.outgoing import OutgoingEmail
from shared.settings import load_settings
from tests.support.azurite import ROOT, free_port
from tests.support.graph_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    USUAL,
    GraphStandIn,
    Reply,
    graph_error,
    graph_settings,
)

ALICE = "alice@contoso.com"
INVOICE = Attachment("invoice.pdf", "application/pdf", bytes(range(256)) * 8)
TEN_MB = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def graph(tls_authority: trustme.CA) -> Iterator[GraphStandIn]:
    server = GraphStandIn(tls_authority)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stand_in(graph: GraphStandIn) -> GraphStandIn:
    graph.reset()
    return graph


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"graph-client-secret": CLIENT_SECRET}))
    return path


@pytest.fixture
def ca_file(tls_authority: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    tls_authority.cert_pem.write_to_path(str(path))
    return path


@asynccontextmanager
async def connected(
    stand_in: GraphStandIn, secrets_file: Path, ca_file: Path, **env: str
) -> AsyncIterator[GraphTransport]:
    """A transport pointed at the stand-in, signing in with the client secret in `secrets_file`."""
    settings = load_settings({"AzureWebJobsStorage": "UseDevelopmentStorage=true", **graph_settings(stand_in), **env})
    transport = GraphTransport(
        settings, FileSecretStore(secrets_file), identity_options={"connection_verify": str(ca_file)}
    )
    try:
        yield transport
    finally:
        await transport.aclose()


@pytest.fixture
async def transport(stand_in: GraphStandIn, secrets_file: Path, ca_file: Path) -> AsyncIterator[GraphTransport]:
    async with connected(stand_in, secrets_file, ca_file) as made:
        yield made


def email(*attachments: Attachment, from_: str = f"Alice <{ALICE}>") -> OutgoingEmail:
    mime = build_mime(
        MessageContent(
            subject="Invoice US-008",
            text="Attached.",
            html="<p>Attached.</p>",
            to=(parse_address("Bob <bob@example.com>", "to"),),
            cc=(parse_address("carol@example.com", "cc"),),
            attachments=attachments,
        ),
        sender=parse_address(from_, "from"),
        message_id="<20261204-1@contoso.com>",
        date=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        utf8=False,
        extra_headers=[("X-Mailroom-Id", "20261204-1"), ("Reply-To", "Desk <desk@contoso.com>")],
    )
    recipients = ("bob@example.com", "carol@example.com", "audit@example.com")
    return OutgoingEmail("20261204-1", ALICE, recipients, mime)


async def send(transport: GraphTransport, outgoing: OutgoingEmail | None = None) -> DeliveryResult:
    return await transport.send(outgoing or email(INVOICE), mailbox=ALICE)


async def test_a_small_email_is_one_send_mail_request_with_everything_in_it(
    transport: GraphTransport, stand_in: GraphStandIn
) -> None:
    result = await send(transport)

    assert result.outcome is Outcome.SENT
    assert result.provider_response.startswith("202 Accepted (request-id req-")
    assert [(r.address, r.status) for r in result.recipients] == [
        ("bob@example.com", RecipientStatus.ACCEPTED),
        ("carol@example.com", RecipientStatus.ACCEPTED),
        ("audit@example.com", RecipientStatus.ACCEPTED),
    ]
    (token,) = stand_in.of_kind("token")
    form = token.body.decode()
    assert f"client_id={CLIENT_ID}" in form and f"client_secret={CLIENT_SECRET}" in form
    assert "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in form
    (request,) = stand_in.of_kind("sendMail")
    assert request.path == f"/v1.0/users/{ALICE}/sendMail"
    assert request.headers["authorization"].startswith("Bearer token-")
    assert request.json() == {
        "Message": {
            "@odata.type": "#microsoft.graph.message",
            "subject": "Invoice US-008",
            "body": {"contentType": "html", "content": "<p>Attached.</p>"},
            "toRecipients": [{"emailAddress": {"address": "bob@example.com", "name": "Bob"}}],
            "ccRecipients": [{"emailAddress": {"address": "carol@example.com"}}],
            "bccRecipients": [{"emailAddress": {"address": "audit@example.com"}}],
            "replyTo": [{"emailAddress": {"address": "desk@contoso.com", "name": "Desk"}}],
            "internetMessageHeaders": [{"name": "X-Mailroom-Id", "value": "20261204-1"}],
            "attachments": [
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": "invoice.pdf",
                    "contentType": "application/pdf",
                    "contentBytes": base64.b64encode(INVOICE.content).decode(),
                }
            ],
        },
        "SaveToSentItems": True,
    }


async def test_one_client_signs_in_once_for_many_emails(transport: GraphTransport, stand_in: GraphStandIn) -> None:
    for _ in range(3):
        assert (await send(transport)).outcome is Outcome.SENT
    assert len(stand_in.of_kind("token")) == 1 and len(stand_in.of_kind("sendMail")) == 3


async def test_a_from_that_is_not_the_mailbox_is_sent_as_that_address(
    transport: GraphTransport, stand_in: GraphStandIn
) -> None:
    await send(transport, email(from_="Sales <sales@contoso.com>"))

    message = stand_in.of_kind("sendMail")[0].json()["Message"]
    assert message["from"] == {"emailAddress": {"address": "sales@contoso.com", "name": "Sales"}}


async def test_a_10_mb_attachment_goes_through_a_draft_and_an_upload_session(
    transport: GraphTransport, stand_in: GraphStandIn
) -> None:
    large = Attachment("scan.tif", "image/tiff", bytes(range(256)) * (TEN_MB // 256))

    result = await send(transport, email(INVOICE, large))

    assert result.outcome is Outcome.SENT
    kinds = [r.kind for r in stand_in.requests if r.kind != "token"]
    assert kinds == ["draft", "createUploadSession", "upload", "upload", "upload", "send"]
    draft = stand_in.of_kind("draft")[0].json()
    assert [a["name"] for a in draft["attachments"]] == ["invoice.pdf"]  # small ones ride in the draft
    assert draft["internetMessageHeaders"] == [{"name": "X-Mailroom-Id", "value": "20261204-1"}]
    session = stand_in.of_kind("createUploadSession")[0]
    assert session.path == f"/v1.0/users/{ALICE}/messages/draft-1/attachments/createUploadSession"
    assert session.json() == {
        "AttachmentItem": {"attachmentType": "file", "name": "scan.tif", "contentType": "image/tiff", "size": TEN_MB}
    }
    chunks = stand_in.of_kind("upload")
    assert [c.headers["content-range"] for c in chunks] == [
        f"bytes 0-{CHUNK_BYTES - 1}/{TEN_MB}",
        f"bytes {CHUNK_BYTES}-{2 * CHUNK_BYTES - 1}/{TEN_MB}",
        f"bytes {2 * CHUNK_BYTES}-{TEN_MB - 1}/{TEN_MB}",
    ]
    assert all(len(c.body) <= 4 * 1024 * 1024 and "authorization" not in c.headers for c in chunks)
    assert stand_in.of_kind("send")[0].path == f"/v1.0/users/{ALICE}/messages/draft-1/send"
    (sent,) = stand_in.sent
    assert sent.via == "draft" and dict(sent.attachments) == {"invoice.pdf": INVOICE.content, "scan.tif": large.content}


@pytest.mark.parametrize("trouble", [Reply(drop=True), Reply(503, graph_error("ServiceUnavailable", "busy"))])
async def test_a_failed_chunk_is_sent_again_from_where_the_session_says(
    transport: GraphTransport, stand_in: GraphStandIn, trouble: Reply
) -> None:
    large = Attachment("scan.tif", "image/tiff", b"\x01" * (5 * 1024 * 1024))
    stand_in.script("upload", USUAL, trouble)

    result = await send(transport, email(large))

    assert result.outcome is Outcome.SENT, result
    ranges = [c.headers["content-range"] for c in stand_in.of_kind("upload")]
    second = f"bytes {CHUNK_BYTES}-{5 * 1024 * 1024 - 1}/{5 * 1024 * 1024}"
    assert ranges == [f"bytes 0-{CHUNK_BYTES - 1}/{5 * 1024 * 1024}", second, second]
    assert [r.kind for r in stand_in.requests][-3:] == ["upload-status", "upload", "send"]
    assert dict(stand_in.sent[0].attachments) == {"scan.tif": large.content}


async def test_without_mail_read_write_the_large_email_fails_in_words_that_say_so(
    transport: GraphTransport, stand_in: GraphStandIn
) -> None:
    stand_in.script("draft", Reply(403, graph_error("ErrorAccessDenied", "Access is denied.")))

    result = await send(transport, email(Attachment("scan.tif", "image/tiff", b"\x00" * TEN_MB)))

    assert (result.outcome, result.code) == (Outcome.PERMANENT, "GraphMailReadWriteMissing")
    assert result.message.startswith("The app registration needs Mail.ReadWrite for emails over 4 MB")
    assert not stand_in.of_kind("createUploadSession", "upload", "send")


async def test_a_failed_upload_leaves_no_draft_behind(transport: GraphTransport, stand_in: GraphStandIn) -> None:
    stand_in.script("createUploadSession", Reply(500, graph_error("InternalServerError", "oops")))

    result = await send(transport, email(Attachment("scan.tif", "image/tiff", b"\x00" * TEN_MB)))

    assert (result.outcome, result.code) == (Outcome.TRANSIENT, "GraphUnavailable")
    assert stand_in.of_kind("delete")[0].path == f"/v1.0/users/{ALICE}/messages/draft-1"


async def test_a_429_is_transient_with_graphs_retry_after_and_is_not_retried_by_the_sdk(
    transport: GraphTransport, stand_in: GraphStandIn
) -> None:
    stand_in.script(
        "sendMail", Reply(429, graph_error("ApplicationThrottled", "Too many requests"), {"Retry-After": "7"})
    )

    result = await send(transport)

    assert (result.outcome, result.code, result.retry_after_seconds) == (Outcome.TRANSIENT, "GraphThrottled", 7.0)
    assert ALICE in result.message
    assert len(stand_in.of_kind("sendMail")) == 1


async def test_no_answer_after_the_send_request_left_is_unconfirmed(
    stand_in: GraphStandIn, secrets_file: Path, ca_file: Path
) -> None:
    stand_in.script("sendMail", Reply(202, delay=1.5))
    async with connected(stand_in, secrets_file, ca_file, MAILROOM_GRAPH_TIMEOUT_SECONDS="0.5") as transport:
        result = await send(transport)

    assert (result.outcome, result.code) == (Outcome.UNCONFIRMED, "GraphNoAnswerAfterSend")
    assert "Sent Items" in result.message


async def test_a_connection_dropped_after_the_send_request_left_is_unconfirmed(
    transport: GraphTransport, stand_in: GraphStandIn
) -> None:
    stand_in.script("sendMail", Reply(drop=True))

    assert (await send(transport)).outcome is Outcome.UNCONFIRMED


async def test_no_answer_to_the_draft_is_transient_nothing_was_sent(
    stand_in: GraphStandIn, secrets_file: Path, ca_file: Path
) -> None:
    stand_in.script("draft", Reply(201, delay=1.5))
    async with connected(stand_in, secrets_file, ca_file, MAILROOM_GRAPH_TIMEOUT_SECONDS="0.5") as transport:
        result = await send(transport, email(Attachment("scan.tif", "image/tiff", b"\x00" * TEN_MB)))

    assert (result.outcome, result.code) == (Outcome.TRANSIENT, "GraphTimedOut")


async def test_graph_unreachable_is_transient(stand_in: GraphStandIn, secrets_file: Path, ca_file: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1.0"
    async with connected(stand_in, secrets_file, ca_file, MAILROOM_GRAPH_BASE_URL=closed) as transport:
        result = await send(transport)

    assert (result.outcome, result.code) == (Outcome.TRANSIENT, "GraphUnreachable")


async def test_a_refused_client_secret_fails_and_a_rotated_one_is_used_at_once(
    transport: GraphTransport, stand_in: GraphStandIn, secrets_file: Path
) -> None:
    stand_in.client_secret = "rotated-secret"

    refused = await send(transport)
    await asyncio.to_thread(secrets_file.write_text, json.dumps({"graph-client-secret": "rotated-secret"}))
    rotated = await send(transport)

    assert (refused.outcome, refused.code) == (Outcome.PERMANENT, "GraphSignInFailed")
    assert "AADSTS7000215" in refused.message and "graph-secret-value" not in refused.message
    assert rotated.outcome is Outcome.SENT


async def test_a_missing_client_secret_or_app_registration_is_named(
    stand_in: GraphStandIn, tmp_path: Path, ca_file: Path, secrets_file: Path
) -> None:
    empty = tmp_path / "empty.json"
    async with connected(stand_in, empty, ca_file) as transport:
        missing = await send(transport)
    async with connected(stand_in, secrets_file, ca_file, MAILROOM_GRAPH_TENANT_ID="") as transport:
        unregistered = await send(transport)

    assert (missing.outcome, missing.code) == (Outcome.PERMANENT, "GraphSecretUnavailable")
    assert "graph-client-secret: not found" in missing.message
    assert (unregistered.outcome, unregistered.code) == (Outcome.PERMANENT, "ExchangeNotConfigured")
    assert not stand_in.of_kind("token", "sendMail")


async def test_the_managed_identity_signs_in_without_a_secret(
    stand_in: GraphStandIn, tmp_path: Path, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", stand_in.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", stand_in.identity_header)
    async with connected(
        stand_in,
        tmp_path / "none.json",
        ca_file,
        MAILROOM_GRAPH_CREDENTIAL="managed-identity",
        MAILROOM_GRAPH_CLIENT_ID="",
    ) as transport:
        result = await send(transport)

    assert result.outcome is Outcome.SENT
    (token,) = stand_in.of_kind("msi")
    assert token.query["resource"] == "https://graph.microsoft.com"
    assert token.headers["x-identity-header"] == stand_in.identity_header
    assert not stand_in.of_kind("token")


def test_a_worker_that_sends_nothing_through_exchange_never_imports_msgraph() -> None:
    script = (
        "import sys, function_app\n"
        "from shared.bootstrap import build_services\n"
        "from shared.settings import load_settings\n"
        "build_services(load_settings({'AzureWebJobsStorage': 'UseDevelopmentStorage=true'}))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('msgraph', 'kiota', 'httpx'))}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
