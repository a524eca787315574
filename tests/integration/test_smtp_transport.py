"""The SMTP adapter against a real aiosmtpd server: what arrives, and what the user reads."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from shared.adapters.smtp import SmtpTransport, TlsMode, tls_mode_for
from shared.domain.delivery import Outcome, RecipientResult, RecipientStatus
from shared.domain.outgoing import OutgoingEmail, SmtpServer
from shared.domain.smtp_failures import AUTH_UNAVAILABLE, CREDENTIALS_REJECTED, SEND_AS_DENIED
from tests.support.azurite import free_port
from tests.support.smtp_server import SmtpTestServer

SENDER = "alice@contoso.com"
MIME = (
    b"From: Alice <alice@contoso.com>\r\nTo: bob@fabrikam.com\r\nSubject: Invoice 42\r\n"
    b"\r\nHello Bob,\r\n.a line that starts with a dot\r\n"
)
PASSWORD = "s3cret-Pa55"


def outgoing(*recipients: str, mime: bytes = MIME, needs_smtputf8: bool = False) -> OutgoingEmail:
    return OutgoingEmail(
        email_id="e-1",
        sender=SENDER,
        recipients=recipients or ("bob@fabrikam.com",),
        mime=mime,
        needs_smtputf8=needs_smtputf8,
    )


def settings(server: SmtpTestServer, **overrides: Any) -> SmtpServer:
    return replace(SmtpServer(server.host, server.port, ssl_required=False), **overrides)


@pytest.fixture
async def transport(trusting_tls_context: ssl.SSLContext) -> AsyncIterator[SmtpTransport]:
    async with SmtpTransport(tls_context=trusting_tls_context, timeout=5) as smtp:
        yield smtp


async def test_a_plain_send_arrives_with_its_exact_envelope_and_bytes(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing("bob@fabrikam.com", "carol@fabrikam.com"), settings(smtp_server))

    assert result.outcome is Outcome.SENT
    assert result.provider_response == "250 2.0.0 OK: queued as MR1"
    assert [(r.address, r.status) for r in result.recipients] == [
        ("bob@fabrikam.com", RecipientStatus.ACCEPTED),
        ("carol@fabrikam.com", RecipientStatus.ACCEPTED),
    ]
    [message] = smtp_server.messages
    assert message.sender == SENDER
    assert message.recipients == ("bob@fabrikam.com", "carol@fabrikam.com")
    assert message.content == MIME
    assert f"SIZE={len(MIME)}" in message.mail_options
    assert not message.tls


@pytest.mark.parametrize(
    ("port", "ssl_required", "mode"),
    [
        (465, True, TlsMode.IMPLICIT),
        (465, False, TlsMode.IMPLICIT),
        (587, True, TlsMode.STARTTLS),
        (25, True, TlsMode.STARTTLS),
        (587, False, TlsMode.OPPORTUNISTIC),
    ],
)
def test_port_465_means_implicit_tls_and_ssl_required_means_starttls_elsewhere(
    port: int, ssl_required: bool, mode: TlsMode
) -> None:
    assert tls_mode_for(SmtpServer("smtp.contoso.com", port, ssl_required=ssl_required)) is mode


@pytest.mark.smtp_server(tls="starttls")
async def test_ssl_required_upgrades_with_starttls(smtp_server: SmtpTestServer, transport: SmtpTransport) -> None:
    result = await transport.send(outgoing(), settings(smtp_server, ssl_required=True))

    assert result.outcome is Outcome.SENT
    assert smtp_server.messages[0].tls


@pytest.mark.smtp_server(tls="starttls")
async def test_starttls_is_used_when_offered_even_if_ssl_is_not_required(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing(), settings(smtp_server, ssl_required=False))

    assert result.outcome is Outcome.SENT
    assert smtp_server.messages[0].tls


@pytest.mark.smtp_server(tls="implicit", port=465)
@pytest.mark.parametrize("ssl_required", [True, False])
async def test_port_465_speaks_tls_from_the_first_byte(
    smtp_server: SmtpTestServer, transport: SmtpTransport, ssl_required: bool
) -> None:
    result = await transport.send(outgoing(), settings(smtp_server, ssl_required=ssl_required))

    assert result.outcome is Outcome.SENT
    assert smtp_server.messages[0].tls


@pytest.mark.smtp_server(tls="none", auth=("alice@contoso.com", PASSWORD))
async def test_ssl_required_without_starttls_sends_nothing_in_clear(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    server = settings(smtp_server, ssl_required=True, user_name="alice@contoso.com", password=PASSWORD)
    result = await transport.send(outgoing(), server)

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpStartTlsUnavailable"
    assert result.message.startswith(
        f"The SMTP server {smtp_server.host}:{smtp_server.port} does not offer STARTTLS, "
        "and SSL is required: enable TLS on the server"
    )
    assert smtp_server.commands == ["EHLO"]  # neither the password nor the message went out
    assert smtp_server.messages == []


@pytest.mark.smtp_server(tls="starttls")
async def test_an_untrusted_certificate_is_a_permanent_failure_naming_the_server(
    smtp_server: SmtpTestServer,
) -> None:
    async with SmtpTransport(timeout=5) as transport:  # the system's trust store only
        result = await transport.send(outgoing(), settings(smtp_server, ssl_required=True))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpTlsFailed"
    assert f"{smtp_server.host}:{smtp_server.port}" in result.message
    assert "certificate" in result.message
    assert smtp_server.messages == []


@pytest.mark.smtp_server(tls="starttls", auth=("alice@contoso.com", PASSWORD))
async def test_signs_in_with_the_user_name_and_password(smtp_server: SmtpTestServer, transport: SmtpTransport) -> None:
    server = settings(smtp_server, ssl_required=True, user_name="alice@contoso.com", password=PASSWORD)
    result = await transport.send(outgoing(), server)

    assert result.outcome is Outcome.SENT
    assert smtp_server.messages[0].login == "alice@contoso.com"
    assert smtp_server.messages[0].tls


@pytest.mark.smtp_server(tls="starttls", auth=("alice@contoso.com", PASSWORD))
async def test_a_wrong_password_says_to_verify_the_credentials_and_never_shows_it(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    server = settings(smtp_server, ssl_required=True, user_name="alice@contoso.com", password="wrong-Pa55")
    result = await transport.send(outgoing(), server)

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpAuthenticationFailed"
    assert result.message == CREDENTIALS_REJECTED
    assert result.provider_response == "535 5.7.8 Authentication credentials invalid"
    assert "wrong-Pa55" not in repr(result)
    assert smtp_server.commands.count("AUTH") == 1  # one attempt: lockout policies count them
    assert smtp_server.messages == []


@pytest.mark.smtp_server(
    tls="starttls",
    auth=("alice@contoso.com", PASSWORD),
    replies={"auth": "535 5.7.57 Client not authenticated to send mail"},
)
async def test_office365_refusing_the_login_reads_the_same(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    server = settings(smtp_server, ssl_required=True, user_name="alice@contoso.com", password=PASSWORD)
    result = await transport.send(outgoing(), server)

    assert result.outcome is Outcome.PERMANENT
    assert result.message == CREDENTIALS_REJECTED
    assert result.provider_response == "535 5.7.57 Client not authenticated to send mail"


@pytest.mark.smtp_server(tls="starttls", auth=None)
async def test_a_user_name_for_a_server_without_auth_says_to_clear_it(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    server = settings(smtp_server, ssl_required=True, user_name="alice@contoso.com", password=PASSWORD)
    result = await transport.send(outgoing(), server)

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpAuthUnavailable"
    assert AUTH_UNAVAILABLE in result.message
    assert smtp_server.messages == []


async def test_authentication_required_without_a_user_name_fails_without_connecting(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing(), settings(smtp_server, authentication_required=True))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpCredentialsMissing"
    assert "user name" in result.message
    assert smtp_server.connections == 0


@pytest.mark.smtp_server(auth=("alice@contoso.com", PASSWORD), auth_required=True)
async def test_a_server_that_wants_a_login_nobody_gave_says_to_verify_the_credentials(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.PERMANENT
    assert result.message == CREDENTIALS_REJECTED
    assert result.provider_response == "530 5.7.0 Authentication required"


@pytest.mark.smtp_server(auth=("alice@contoso.com", PASSWORD))
async def test_a_connection_signed_in_as_one_account_never_serves_another(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    right = settings(smtp_server, user_name="alice@contoso.com", password=PASSWORD)
    wrong = settings(smtp_server, user_name="alice@contoso.com", password="wrong-Pa55")

    assert (await transport.send(outgoing(), right)).outcome is Outcome.SENT
    assert (await transport.send(outgoing(), wrong)).code == "SmtpAuthenticationFailed"
    assert smtp_server.connections == 2
    assert len(smtp_server.messages) == 1


@pytest.mark.smtp_server(replies={"rcpt:ghost@fabrikam.com": "550 5.1.1 No such user"})
async def test_one_refused_recipient_of_two_is_sent_with_per_recipient_results(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing("bob@fabrikam.com", "ghost@fabrikam.com"), settings(smtp_server))

    assert result.outcome is Outcome.SENT
    assert result.recipients == (
        RecipientResult("bob@fabrikam.com", RecipientStatus.ACCEPTED, "250 OK"),
        RecipientResult("ghost@fabrikam.com", RecipientStatus.REFUSED, "550 5.1.1 No such user"),
    )
    assert smtp_server.messages[0].recipients == ("bob@fabrikam.com",)


def _refusing(reply: str, outcome: Outcome) -> Any:
    replies = {"rcpt:ghost@fabrikam.com": reply, "rcpt:nobody@fabrikam.com": reply}
    return pytest.param(reply, outcome, marks=pytest.mark.smtp_server(replies=replies))


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        _refusing("550 5.1.1 No such user", Outcome.PERMANENT),
        _refusing("451 4.3.0 Try later", Outcome.TRANSIENT),
    ],
)
async def test_every_recipient_refused_is_a_failure_and_sends_no_content(
    smtp_server: SmtpTestServer, transport: SmtpTransport, reply: str, outcome: Outcome
) -> None:
    refused = await transport.send(outgoing("ghost@fabrikam.com", "nobody@fabrikam.com"), settings(smtp_server))
    sent = await transport.send(outgoing("bob@fabrikam.com"), settings(smtp_server))

    assert refused.outcome is outcome
    assert refused.code == "SmtpRecipientsRefused"
    assert f"ghost@fabrikam.com ({reply})" in refused.message
    assert [r.status for r in refused.recipients] == [RecipientStatus.REFUSED] * 2
    assert smtp_server.commands == ["EHLO", "MAIL", "RCPT", "RCPT", "MAIL", "RCPT", "DATA"]
    assert sent.outcome is Outcome.SENT  # the connection was reset and served the next email
    assert smtp_server.connections == 1


@pytest.mark.smtp_server(replies={"data": "451 4.3.0 Try later"})
async def test_a_451_after_the_content_is_transient(smtp_server: SmtpTestServer, transport: SmtpTransport) -> None:
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.TRANSIENT
    assert result.code == "SmtpTransientReply"
    assert "451 4.3.0 Try later" in result.message
    assert result.recipients == (RecipientResult("bob@fabrikam.com", RecipientStatus.PENDING, "250 OK"),)


@pytest.mark.smtp_server(replies={"data": "554 5.7.60 SMTP; Client does not have permissions to send as this sender"})
async def test_send_as_denied_says_to_grant_send_as(smtp_server: SmtpTestServer, transport: SmtpTransport) -> None:
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpSendAsDenied"
    assert result.message == SEND_AS_DENIED
    assert result.provider_response.startswith("554 5.7.60")


@pytest.mark.smtp_server(drop_at="data")
async def test_a_connection_lost_after_the_content_is_unconfirmed(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.UNCONFIRMED
    assert result.code == "SmtpConnectionLostAfterData"
    assert result.message == (
        f"The connection to {smtp_server.host}:{smtp_server.port} was lost after the message "
        "was sent and before the server confirmed it; it may or may not have been delivered. "
        "Check the recipient's inbox before resending."
    )
    assert [r.status for r in result.recipients] == [RecipientStatus.PENDING]
    assert smtp_server.messages[0].content == MIME  # it did arrive: resending would duplicate it


@pytest.mark.smtp_server(drop_at="data-command")
async def test_a_connection_lost_before_the_content_left_is_transient(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.TRANSIENT
    assert result.code == "SmtpConnectionLost"
    assert smtp_server.messages == []


@pytest.mark.smtp_server(drop_at="mail")
async def test_a_fresh_connection_lost_at_mail_from_is_transient_and_not_retried(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.TRANSIENT
    assert result.code == "SmtpConnectionLost"
    assert smtp_server.connections == 1


async def test_a_server_that_is_down_is_transient_and_named() -> None:
    port = free_port()
    async with SmtpTransport(timeout=5) as transport:
        result = await transport.send(outgoing(), SmtpServer("127.0.0.1", port, ssl_required=False))

    assert result.outcome is Outcome.TRANSIENT
    assert result.code == "SmtpConnectionFailed"
    assert result.message == f"Could not connect to the SMTP server 127.0.0.1:{port}: connection refused"


async def test_one_connection_serves_many_emails(
    smtp_server: SmtpTestServer, trusting_tls_context: ssl.SSLContext
) -> None:
    transport = SmtpTransport(tls_context=trusting_tls_context, timeout=5)
    first = await transport.send(outgoing(), settings(smtp_server))
    second = await transport.send(outgoing(), settings(smtp_server))
    await transport.aclose()

    assert (first.outcome, second.outcome) == (Outcome.SENT, Outcome.SENT)
    assert len(smtp_server.messages) == 2
    assert smtp_server.connections == 1
    assert smtp_server.quits == 1  # closing the transport said goodbye


async def test_a_pooled_connection_the_server_closed_is_replaced(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    await transport.send(outgoing(), settings(smtp_server))
    smtp_server.close_sessions()
    await asyncio.sleep(0.05)
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.SENT
    assert len(smtp_server.messages) == 2
    assert smtp_server.connections == 2


@pytest.mark.smtp_server(drop_at="mail", drop_after_messages=1)
async def test_a_pooled_connection_found_dead_at_mail_from_is_retried_on_a_fresh_one(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    await transport.send(outgoing(), settings(smtp_server))
    result = await transport.send(outgoing(), settings(smtp_server))

    assert result.outcome is Outcome.SENT
    assert len(smtp_server.messages) == 2
    assert smtp_server.connections == 2


async def test_an_idle_connection_past_its_time_is_closed_not_reused(
    smtp_server: SmtpTestServer, trusting_tls_context: ssl.SSLContext
) -> None:
    async with SmtpTransport(tls_context=trusting_tls_context, idle_seconds=0.05) as transport:
        await transport.send(outgoing(), settings(smtp_server))
        await asyncio.sleep(0.1)
        result = await transport.send(outgoing(), settings(smtp_server))

        assert result.outcome is Outcome.SENT
        assert smtp_server.connections == 2
        assert smtp_server.quits == 1


async def test_concurrent_sends_share_at_most_pool_size_connections(
    smtp_server: SmtpTestServer, trusting_tls_context: ssl.SSLContext
) -> None:
    async with SmtpTransport(tls_context=trusting_tls_context, pool_size=2) as transport:
        results = await asyncio.gather(*(transport.send(outgoing(), settings(smtp_server)) for _ in range(6)))

    assert [r.outcome for r in results] == [Outcome.SENT] * 6
    assert len(smtp_server.messages) == 6
    assert smtp_server.connections == 2


UTF8_MIME = "From: jörg@bücher.example\r\nSubject: Grüße\r\n\r\nHallo\r\n".encode()


@pytest.mark.smtp_server(smtputf8=True)
async def test_a_non_ascii_address_goes_out_with_smtputf8(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    email = OutgoingEmail("e-2", "jörg@bücher.example", ("zoë@fabrikam.com",), UTF8_MIME, True)
    result = await transport.send(email, settings(smtp_server))

    assert result.outcome is Outcome.SENT
    [message] = smtp_server.messages
    assert (message.sender, message.recipients) == ("jörg@bücher.example", ("zoë@fabrikam.com",))
    assert "SMTPUTF8" in message.mail_options
    assert "BODY=8BITMIME" in message.mail_options
    assert message.content == UTF8_MIME


@pytest.mark.smtp_server(smtputf8=False)
async def test_a_non_ascii_address_to_a_server_without_smtputf8_is_a_clear_failure(
    smtp_server: SmtpTestServer, transport: SmtpTransport
) -> None:
    email = OutgoingEmail("e-2", "jörg@bücher.example", ("zoë@fabrikam.com",), UTF8_MIME, True)
    result = await transport.send(email, settings(smtp_server))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpUtf8Unavailable"
    assert "non-ASCII" in result.message
    assert "MAIL" not in smtp_server.commands
