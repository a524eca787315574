"""International addresses and UTF-8 names and subjects, from the request to a real SMTP server."""

from __future__ import annotations

import email
import json
import ssl
from email import policy
from pathlib import Path

import pytest

from shared.adapters.smtp import SmtpTransport
from tests.support.builders import service_stack
from tests.support.smtp_server import SmtpTestServer

BODY = {
    "user": "joerg",
    "provider": "smtp",
    "to": ["Zoë Ångström <zoë@bücher.de>"],
    "subject": "Grüße – 東京",
    "body": {"text": "Hallo Zoë"},
}


async def send_one(storage: str, tmp_path: Path, server: SmtpTestServer, context: ssl.SSLContext) -> dict:
    transport = SmtpTransport(tls_context=context)
    async with transport, service_stack(storage, tmp_path / "s.json", transport=transport) as stack:
        await stack.configuration.patch_parameters(
            {"smtp": {"server": "127.0.0.1", "port": server.port, "sslRequired": False}}
        )
        await stack.configuration.put_user("joerg", {"email": "Jörg Müller <joerg@contoso.com>"})
        accepted = await stack.sending.accept(BODY)
        await stack.dispatching.dispatch(json.dumps({"id": accepted.id}).encode(), message_id="m1")
        found = await stack.history.get(accepted.id)
        assert found is not None
        return found[0].public()


@pytest.mark.smtp_server(smtputf8=True)
async def test_an_international_address_is_sent_with_smtputf8(
    storage: str, tmp_path: Path, smtp_server: SmtpTestServer, trusting_tls_context: ssl.SSLContext
) -> None:
    record = await send_one(storage, tmp_path, smtp_server, trusting_tls_context)
    assert record["status"] == "Sent", record
    (received,) = smtp_server.messages
    assert received.recipients == ("zoë@bücher.de",) and "SMTPUTF8" in received.mail_options
    message = email.message_from_bytes(received.content, policy=policy.default)
    assert message["Subject"] == "Grüße – 東京"
    assert message["From"] == "Jörg Müller <joerg@contoso.com>"
    assert message["To"] == "Zoë Ångström <zoë@bücher.de>"


@pytest.mark.smtp_server(smtputf8=False)
async def test_a_server_without_smtputf8_gets_a_clear_failure(
    storage: str, tmp_path: Path, smtp_server: SmtpTestServer, trusting_tls_context: ssl.SSLContext
) -> None:
    record = await send_one(storage, tmp_path, smtp_server, trusting_tls_context)
    assert record["status"] == "Failed" and smtp_server.messages == []
    assert "SMTPUTF8" in record["lastFailureMessage"]
