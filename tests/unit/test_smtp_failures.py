"""Classifying SMTP failures: the outcome the dispatcher acts on, and the words a user reads."""

from __future__ import annotations

import itertools

import pytest

from shared.domain.delivery import Outcome, RecipientResult, RecipientStatus
from shared.domain.smtp_failures import (
    AUTH_UNAVAILABLE,
    CREDENTIALS_REJECTED,
    SEND_AS_DENIED,
    SmtpFailure,
    SmtpFault,
    SmtpPhase,
    SmtpReply,
    classify,
    classify_refusals,
)

HOST, PORT = "smtp.contoso.com", 587


def replied(phase: SmtpPhase, code: int, text: str) -> SmtpFailure:
    return SmtpFailure(phase, HOST, PORT, reply=SmtpReply(code, text))


def faulted(phase: SmtpPhase, fault: SmtpFault, detail: str = "") -> SmtpFailure:
    return SmtpFailure(phase, HOST, PORT, fault=fault, detail=detail)


@pytest.mark.parametrize("phase", list(SmtpPhase))
def test_a_4xx_reply_is_transient_and_quoted(phase: SmtpPhase) -> None:
    result = classify(replied(phase, 451, "4.3.0 Try again later"))

    assert result.outcome is Outcome.TRANSIENT
    assert result.code == "SmtpTransientReply"
    assert "smtp.contoso.com:587" in result.message
    assert "451 4.3.0 Try again later" in result.message
    assert result.provider_response == "451 4.3.0 Try again later"


@pytest.mark.parametrize("phase", list(SmtpPhase))
def test_a_5xx_reply_is_permanent_and_quoted(phase: SmtpPhase) -> None:
    result = classify(replied(phase, 552, "5.3.4 Message size exceeds fixed limit"))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpPermanentReply"
    assert "smtp.contoso.com:587" in result.message
    assert "552 5.3.4 Message size exceeds fixed limit" in result.message


def test_the_reply_says_which_step_was_refused() -> None:
    sender = classify(replied(SmtpPhase.MAIL, 550, "5.7.1 Sender rejected"))
    content = classify(replied(SmtpPhase.AFTER_DATA_SENT, 554, "5.6.0 Bad content"))

    assert "refused the sender" in sender.message
    assert "refused the message" in content.message


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (SmtpFault.CONNECTION_REFUSED, "connection refused"),
        (SmtpFault.HOST_UNREACHABLE, "the network cannot reach it"),
        (SmtpFault.NAME_NOT_RESOLVED, "the server name could not be resolved"),
        (SmtpFault.TIMEOUT, "no answer in time"),
        (SmtpFault.CONNECTION_LOST, "the server closed the connection before greeting"),
    ],
)
def test_failing_to_connect_is_transient_and_names_host_and_port(fault: SmtpFault, reason: str) -> None:
    result = classify(faulted(SmtpPhase.CONNECT, fault))

    assert result.outcome is Outcome.TRANSIENT
    assert result.code == "SmtpConnectionFailed"
    assert result.message.startswith(f"Could not connect to the SMTP server smtp.contoso.com:587: {reason}")


def test_connection_refused_reads_plainly() -> None:
    result = classify(faulted(SmtpPhase.CONNECT, SmtpFault.CONNECTION_REFUSED, "[Errno 111]"))

    assert result.message == ("Could not connect to the SMTP server smtp.contoso.com:587: connection refused")
    assert result.provider_response == "[Errno 111]"


def test_any_other_connect_failure_gives_the_low_level_reason() -> None:
    result = classify(faulted(SmtpPhase.CONNECT, SmtpFault.CONNECTION_FAILED, "Multiple exceptions"))

    assert result.outcome is Outcome.TRANSIENT
    assert result.message == ("Could not connect to the SMTP server smtp.contoso.com:587: Multiple exceptions")


@pytest.mark.parametrize(
    "phase",
    [SmtpPhase.TLS, SmtpPhase.EHLO, SmtpPhase.AUTH, SmtpPhase.MAIL, SmtpPhase.RCPT, SmtpPhase.DATA],
)
@pytest.mark.parametrize("fault", [SmtpFault.CONNECTION_LOST, SmtpFault.TIMEOUT])
def test_a_connection_lost_before_the_content_left_is_transient(phase: SmtpPhase, fault: SmtpFault) -> None:
    result = classify(faulted(phase, fault))

    assert result.outcome is Outcome.TRANSIENT
    assert "smtp.contoso.com:587" in result.message
    assert "nothing was sent" in result.message


def test_a_connection_lost_after_the_content_left_is_unconfirmed() -> None:
    result = classify(faulted(SmtpPhase.AFTER_DATA_SENT, SmtpFault.CONNECTION_LOST))

    assert result.outcome is Outcome.UNCONFIRMED
    assert result.code == "SmtpConnectionLostAfterData"
    assert result.message == (
        "The connection to smtp.contoso.com:587 was lost after the message was sent and before "
        "the server confirmed it; it may or may not have been delivered. Check the recipient's "
        "inbox before resending."
    )


def test_no_confirmation_in_time_after_the_content_left_is_unconfirmed() -> None:
    result = classify(faulted(SmtpPhase.AFTER_DATA_SENT, SmtpFault.TIMEOUT))

    assert result.outcome is Outcome.UNCONFIRMED
    assert result.code == "SmtpConnectionLostAfterData"
    assert "may or may not have been delivered" in result.message


def test_a_garbled_reply_to_the_content_is_unconfirmed() -> None:
    result = classify(replied(SmtpPhase.AFTER_DATA_SENT, -1, "Malformed SMTP response line"))

    assert result.outcome is Outcome.UNCONFIRMED
    assert "Check the recipient's inbox before resending" in result.message


def test_a_garbled_reply_before_the_content_is_permanent() -> None:
    result = classify(replied(SmtpPhase.CONNECT, -1, "Malformed SMTP response line: HTTP/1.1"))

    assert result.outcome is Outcome.PERMANENT
    assert "check that the port is the server's SMTP port" in result.message


@pytest.mark.parametrize("fault", [SmtpFault.TLS_CERTIFICATE, SmtpFault.TLS_HANDSHAKE])
@pytest.mark.parametrize("phase", [SmtpPhase.CONNECT, SmtpPhase.TLS])
def test_a_tls_failure_is_permanent_and_names_host_and_port(fault: SmtpFault, phase: SmtpPhase) -> None:
    result = classify(faulted(phase, fault, "certificate has expired"))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpTlsFailed"
    assert "smtp.contoso.com:587" in result.message
    assert "certificate has expired" in result.message


def test_ssl_required_and_no_starttls_is_permanent() -> None:
    result = classify(faulted(SmtpPhase.TLS, SmtpFault.STARTTLS_NOT_OFFERED))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpStartTlsUnavailable"
    assert result.message.startswith(
        "The SMTP server smtp.contoso.com:587 does not offer STARTTLS, and SSL is required: enable TLS on the server"
    )


def test_a_user_name_and_no_auth_on_the_server_says_to_clear_them() -> None:
    result = classify(faulted(SmtpPhase.AUTH, SmtpFault.AUTH_NOT_OFFERED))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpAuthUnavailable"
    assert AUTH_UNAVAILABLE == (
        "If your SMTP server doesn't support authentication, please clear the SMTP user name and password"
    )
    assert AUTH_UNAVAILABLE in result.message


def test_no_sign_in_method_in_common_names_what_the_server_offers() -> None:
    result = classify(faulted(SmtpPhase.AUTH, SmtpFault.AUTH_MECHANISM_UNSUPPORTED, "GSSAPI NTLM"))

    assert result.outcome is Outcome.PERMANENT
    assert "GSSAPI NTLM" in result.message


def test_authentication_required_without_credentials_is_permanent() -> None:
    result = classify(faulted(SmtpPhase.AUTH, SmtpFault.CREDENTIALS_MISSING))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpCredentialsMissing"
    assert "enter the SMTP user name and password" in result.message


@pytest.mark.parametrize(
    ("phase", "code", "text"),
    [
        (SmtpPhase.AUTH, 535, "5.7.8 Authentication credentials invalid"),
        (SmtpPhase.AUTH, 535, "5.7.3 Authentication unsuccessful"),
        (SmtpPhase.MAIL, 530, "5.7.57 Client not authenticated to send mail"),
        (SmtpPhase.AUTH, 535, "5.7.139 Authentication unsuccessful, basic authentication is disabled"),
        (SmtpPhase.MAIL, 530, "5.7.0 Authentication required"),
        (SmtpPhase.RCPT, 550, "5.7.57 Client not authenticated to send mail"),
    ],
)
def test_rejected_or_missing_credentials_say_to_verify_them(phase: SmtpPhase, code: int, text: str) -> None:
    result = classify(replied(phase, code, text))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpAuthenticationFailed"
    assert result.message == ("The SMTP server rejected the credentials: verify the SMTP user name and password")
    assert result.message == CREDENTIALS_REJECTED
    assert result.provider_response == f"{code} {text}"


def test_issue_starttls_first_is_not_a_credentials_problem() -> None:
    result = classify(replied(SmtpPhase.MAIL, 530, "5.7.0 Must issue a STARTTLS command first."))

    assert result.code == "SmtpPermanentReply"


def test_a_temporary_authentication_failure_is_transient() -> None:
    result = classify(replied(SmtpPhase.AUTH, 454, "4.7.0 Temporary authentication failure"))

    assert result.outcome is Outcome.TRANSIENT


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (554, "5.7.60 SMTP; Client does not have permissions to send as this sender"),
        (
            554,
            "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied",
        ),
        (550, "5.7.1 Client does not have permissions to send as this sender (not allowed to send as)"),
    ],
)
def test_send_as_denied_says_to_grant_send_as(code: int, text: str) -> None:
    result = classify(replied(SmtpPhase.AFTER_DATA_SENT, code, text))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpSendAsDenied"
    assert result.message == (
        "Client does not have permissions to send as this sender: "
        "grant Send As / Send On Behalf Of for the SMTP account"
    )
    assert result.message == SEND_AS_DENIED
    assert result.provider_response == f"{code} {text}"


def test_a_non_ascii_address_and_no_smtputf8_is_permanent() -> None:
    result = classify(faulted(SmtpPhase.MAIL, SmtpFault.SMTPUTF8_NOT_OFFERED))

    assert result.outcome is Outcome.PERMANENT
    assert result.code == "SmtpUtf8Unavailable"
    assert "non-ASCII" in result.message
    assert "SMTPUTF8" in result.message


def test_an_address_smtp_cannot_carry_is_permanent_and_named() -> None:
    result = classify(faulted(SmtpPhase.RCPT, SmtpFault.ADDRESS_INVALID, "bob\x7f@fabrikam.com"))

    assert result.outcome is Outcome.PERMANENT
    assert "bob\x7f@fabrikam.com" in result.message


def test_every_recipient_refused_with_4xx_is_transient() -> None:
    result = classify_refusals(
        HOST,
        PORT,
        [
            ("bob@fabrikam.com", SmtpReply(451, "4.2.0 Greylisted")),
            ("carol@fabrikam.com", SmtpReply(452, "4.2.2 Mailbox full")),
        ],
    )

    assert result.outcome is Outcome.TRANSIENT
    assert result.code == "SmtpRecipientsRefused"
    assert result.message == (
        "The SMTP server smtp.contoso.com:587 refused every recipient: "
        "bob@fabrikam.com (451 4.2.0 Greylisted); carol@fabrikam.com (452 4.2.2 Mailbox full)"
    )
    assert result.recipients == (
        RecipientResult("bob@fabrikam.com", RecipientStatus.REFUSED, "451 4.2.0 Greylisted"),
        RecipientResult("carol@fabrikam.com", RecipientStatus.REFUSED, "452 4.2.2 Mailbox full"),
    )


def test_every_recipient_refused_with_any_5xx_is_permanent() -> None:
    result = classify_refusals(
        HOST,
        PORT,
        [
            ("bob@fabrikam.com", SmtpReply(451, "4.2.0 Greylisted")),
            ("ghost@fabrikam.com", SmtpReply(550, "5.1.1 No such user")),
        ],
    )

    assert result.outcome is Outcome.PERMANENT


def test_the_enhanced_status_is_read_from_the_reply() -> None:
    assert SmtpReply(550, "5.7.60 SendAsDenied").enhanced_status == "5.7.60"
    assert SmtpReply(250, "OK").enhanced_status is None


@pytest.mark.parametrize(("phase", "fault"), list(itertools.product(list(SmtpPhase), list(SmtpFault))))
def test_every_failure_has_a_code_and_words_and_is_unconfirmed_only_after_the_content(
    phase: SmtpPhase, fault: SmtpFault
) -> None:
    result = classify(faulted(phase, fault, "detail"))

    assert result.code.startswith("Smtp")
    assert result.message and "None" not in result.message
    assert result.outcome is not Outcome.SENT
    if result.outcome is Outcome.UNCONFIRMED:
        assert phase is SmtpPhase.AFTER_DATA_SENT
