"""Classifying Microsoft Graph failures: the outcome the dispatcher acts on, and the words a user reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.delivery import Outcome
from shared.domain.graph_failures import (
    MAIL_READ_WRITE_NEEDED,
    GraphFailure,
    GraphFault,
    GraphStep,
    classify,
    mailbox_invalid,
    mailbox_paused,
    retry_after_seconds,
    send_as_denied,
)

MAILBOX = "alice@contoso.com"
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def answered(status: int, code: str = "", step: GraphStep = GraphStep.SEND_MAIL, **more: object) -> GraphFailure:
    return GraphFailure(step, MAILBOX, status, error_code=code, detail="Graph says so", **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "outcome", "code", "message"),
    [
        (
            answered(401, "InvalidAuthenticationToken"),
            Outcome.PERMANENT,
            "GraphMailboxInvalid",
            mailbox_invalid(MAILBOX),
        ),
        (answered(404, "ErrorInvalidUser"), Outcome.PERMANENT, "GraphMailboxInvalid", mailbox_invalid(MAILBOX)),
        (
            answered(400, "MailboxNotEnabledForRESTAPI"),
            Outcome.PERMANENT,
            "GraphMailboxInvalid",
            mailbox_invalid(MAILBOX),
        ),
        (
            answered(404, "ResourceNotFound", GraphStep.CREATE_DRAFT),
            Outcome.PERMANENT,
            "GraphMailboxInvalid",
            mailbox_invalid(MAILBOX),
        ),
        (answered(403, "ErrorSendAsDenied"), Outcome.PERMANENT, "GraphSendAsDenied", send_as_denied(MAILBOX)),
        (
            answered(403, "ErrorSendAsDenied", send_as="sales@contoso.com"),
            Outcome.PERMANENT,
            "GraphSendAsDenied",
            send_as_denied("sales@contoso.com"),
        ),
        (answered(403, "ErrorAccessDenied"), Outcome.PERMANENT, "GraphAccessDenied", send_as_denied(MAILBOX)),
        (
            answered(403, "ErrorAccessDenied", GraphStep.CREATE_DRAFT),
            Outcome.PERMANENT,
            "GraphMailReadWriteMissing",
            MAIL_READ_WRITE_NEEDED,
        ),
        (answered(413, "ErrorMessageSizeExceeded"), Outcome.PERMANENT, "GraphMessageTooLarge", "larger than"),
        (answered(400, "ErrorInvalidRecipients"), Outcome.PERMANENT, "GraphRefused", "400 ErrorInvalidRecipients"),
        (answered(503, "ServiceUnavailable"), Outcome.TRANSIENT, "GraphUnavailable", "503 ServiceUnavailable"),
        (
            answered(429, "ApplicationThrottled", retry_after_seconds=7.0),
            Outcome.TRANSIENT,
            "GraphThrottled",
            "after 7 s",
        ),
    ],
)
def test_graph_answers_are_worded_for_the_user(
    failure: GraphFailure, outcome: Outcome, code: str, message: str
) -> None:
    result = classify(failure)

    assert (result.outcome, result.code) == (outcome, code)
    assert message in result.message
    assert "Graph says so" in result.provider_response


def test_a_429_carries_graphs_retry_after_to_the_dispatcher() -> None:
    assert classify(answered(429, retry_after_seconds=42.0)).retry_after_seconds == 42.0


@pytest.mark.parametrize("step", [GraphStep.SEND_MAIL, GraphStep.SEND_DRAFT])
@pytest.mark.parametrize("fault", [GraphFault.TIMEOUT, GraphFault.CONNECTION_LOST])
def test_no_answer_after_a_send_request_left_is_unconfirmed(step: GraphStep, fault: GraphFault) -> None:
    result = classify(GraphFailure(step, MAILBOX, fault=fault, request_left=True))

    assert result.outcome is Outcome.UNCONFIRMED
    assert "may or may not have been sent" in result.message and "Sent Items" in result.message


@pytest.mark.parametrize(
    "failure",
    [
        GraphFailure(GraphStep.SEND_MAIL, MAILBOX, fault=GraphFault.UNREACHABLE, detail="ConnectError"),
        GraphFailure(GraphStep.SEND_MAIL, MAILBOX, fault=GraphFault.CONNECTION_LOST, request_left=False),
        GraphFailure(GraphStep.CREATE_DRAFT, MAILBOX, fault=GraphFault.TIMEOUT, request_left=True),
        GraphFailure(GraphStep.ATTACH, MAILBOX, fault=GraphFault.UPLOAD_INCOMPLETE, detail="stuck at byte 0"),
        GraphFailure(GraphStep.SIGN_IN, MAILBOX, fault=GraphFault.SECRET_UNREADABLE, detail="vault down"),
    ],
)
def test_failures_before_anything_could_be_sent_are_transient(failure: GraphFailure) -> None:
    result = classify(failure)

    assert result.outcome is Outcome.TRANSIENT
    assert "nothing was sent" in result.message


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (GraphFault.NOT_CONFIGURED, "ExchangeNotConfigured", "Exchange is not set up"),
        (GraphFault.SECRET_MISSING, "GraphSecretUnavailable", "client secret of the app registration"),
        (GraphFault.SIGN_IN_REFUSED, "GraphSignInFailed", "could not sign in to Microsoft Graph"),
    ],
)
def test_configuration_problems_fail_at_once(fault: GraphFault, code: str, words: str) -> None:
    result = classify(GraphFailure(GraphStep.SIGN_IN, MAILBOX, fault=fault, detail="why"))

    assert (result.outcome, result.code) == (Outcome.PERMANENT, code)
    assert words in result.message and "why" in result.message


def test_a_paused_mailbox_waits_until_graph_said_without_asking_it() -> None:
    result = mailbox_paused(MAILBOX, NOW + timedelta(seconds=30), NOW)

    assert (result.outcome, result.retry_after_seconds) == (Outcome.TRANSIENT, 30.0)
    assert MAILBOX in result.message and "09:30:30 UTC" in result.message


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), (" 120 ", 120.0), ("Fri, 04 Dec 2026 09:31:00 GMT", 60.0), ("soon", None), (None, None), ("-3", 0.0)],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds
