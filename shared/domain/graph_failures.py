"""Why a Microsoft Graph attempt failed, in words a user can act on.

The Graph adapter reduces every failure to a `GraphFailure`: the step it happened in, and
either Graph's answer (status, error code, Retry-After) or what went wrong on the wire.
`classify` turns that into a `DeliveryResult`. 429 and 5xx answers and anything that stopped
before a request left are transient; other 4xx answers are permanent; a send request that
left but got no answer is unconfirmed, because Graph takes no idempotency key and a blind
retry could send the email twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from shared.domain.delivery import DeliveryResult, Outcome

THROTTLED = "GraphThrottled"
MAILBOX_PAUSED = "ExchangeMailboxPaused"
_MAILBOX_INVALID_CODES = {
    "errorinvaliduser",
    "mailboxnotenabledforrestapi",
    "errornonexistentmailbox",
    "mailboxnotfound",
}


class GraphStep(enum.StrEnum):
    SIGN_IN = "sign-in"  # the client secret and the token, before any Graph request
    SEND_MAIL = "sendMail"  # the one-request send
    CREATE_DRAFT = "create-draft"  # large emails: the draft that carries them
    ATTACH = "attach"  # large emails: attachments and upload sessions
    SEND_DRAFT = "send-draft"  # large emails: sending the finished draft

    @property
    def sends(self) -> bool:
        """Once a request of this step has left, the email may have been sent."""
        return self in (GraphStep.SEND_MAIL, GraphStep.SEND_DRAFT)


class GraphFault(enum.StrEnum):
    """What went wrong when Graph gave no answer to judge by."""

    NOT_CONFIGURED = "not configured"
    SECRET_MISSING = "client secret missing"  # not found, or the store refuses it
    SECRET_UNREADABLE = "client secret unreadable"
    SIGN_IN_REFUSED = "sign-in refused"
    UNREACHABLE = "unreachable"  # no connection: nothing left
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection lost"
    UPLOAD_INCOMPLETE = "upload incomplete"


@dataclass(frozen=True)
class GraphFailure:
    step: GraphStep
    mailbox: str
    status: int | None = None  # Graph's HTTP status, when it answered
    error_code: str = ""  # Graph's error code, e.g. ErrorSendAsDenied
    detail: str = ""  # Graph's error message, or the low-level reason
    fault: GraphFault | None = None
    request_left: bool = False  # the whole request was written before the failure
    retry_after_seconds: float | None = None
    send_as: str | None = None  # the From address, when it is not the mailbox itself

    @property
    def answer(self) -> str:
        return " ".join(str(part) for part in (self.status, self.error_code) if part) + (
            f": {self.detail}" if self.detail else ""
        )


def mailbox_invalid(mailbox: str) -> str:
    return f"The Exchange mailbox of the sender {mailbox} is not valid or not enabled for sign in"


def send_as_denied(address: str) -> str:
    return f"The app has no permission to send as {address}"


MAIL_READ_WRITE_NEEDED = "The app registration needs Mail.ReadWrite for emails over 4 MB"

_DOING = {
    GraphStep.SIGN_IN: "signing in",
    GraphStep.SEND_MAIL: "sending the email",
    GraphStep.CREATE_DRAFT: "creating the draft of a large email",
    GraphStep.ATTACH: "uploading the attachments of a large email",
    GraphStep.SEND_DRAFT: "sending the draft of a large email",
}


def classify(failure: GraphFailure) -> DeliveryResult:
    """The outcome of a failed attempt and what the user reads about it."""
    if failure.status is not None:
        return _classify_answer(failure, failure.status)
    return _classify_fault(failure, failure.fault or GraphFault.CONNECTION_LOST)


def _classify_answer(failure: GraphFailure, status: int) -> DeliveryResult:
    mailbox, code, answer = failure.mailbox, failure.error_code.lower(), failure.answer
    if status == 429:
        wait = failure.retry_after_seconds
        when = f"after {wait:g} s" if wait else "later"
        message = (
            f"Exchange is throttling the mailbox {mailbox} (429 Too Many Requests): Mailroom sends "
            f"this email again {when}, and holds the mailbox's other email until then"
        )
        return _result(Outcome.TRANSIENT, THROTTLED, message, answer, failure.retry_after_seconds)
    if status >= 500:
        message = f"Microsoft Graph could not take the email right now while {_DOING[failure.step]} ({answer})"
        return _result(Outcome.TRANSIENT, "GraphUnavailable", message, answer, failure.retry_after_seconds)
    if (
        status == 401
        or code in _MAILBOX_INVALID_CODES
        or (status == 404 and failure.step in (GraphStep.SEND_MAIL, GraphStep.CREATE_DRAFT))
    ):
        return _result(Outcome.PERMANENT, "GraphMailboxInvalid", mailbox_invalid(mailbox), answer)
    if code == "errorsendasdenied":
        message = (
            f"{send_as_denied(failure.send_as or mailbox)}: grant the mailbox {mailbox} Send As "
            "permission on that address, or send from the mailbox's own address"
        )
        return _result(Outcome.PERMANENT, "GraphSendAsDenied", message, answer)
    if status == 403 and failure.step in (GraphStep.CREATE_DRAFT, GraphStep.ATTACH):
        message = (
            f"{MAIL_READ_WRITE_NEEDED}: Microsoft Graph refused to create the draft in the mailbox "
            f"{mailbox} ({answer}). Grant the app registration the Mail.ReadWrite application permission"
        )
        return _result(Outcome.PERMANENT, "GraphMailReadWriteMissing", message, answer)
    if status == 403:
        message = (
            f"{send_as_denied(mailbox)}: grant the app registration the Mail.Send application "
            f"permission, and check any application access policy that limits its mailboxes ({answer})"
        )
        return _result(Outcome.PERMANENT, "GraphAccessDenied", message, answer)
    if status == 413 or code == "errormessagesizeexceeded":
        message = f"The email is larger than the mailbox {mailbox} may send ({answer}): make the attachments smaller"
        return _result(Outcome.PERMANENT, "GraphMessageTooLarge", message, answer)
    message = f"Microsoft Graph refused the email while {_DOING[failure.step]} ({answer})"
    return _result(Outcome.PERMANENT, "GraphRefused", message, answer)


def _classify_fault(failure: GraphFailure, fault: GraphFault) -> DeliveryResult:
    detail, doing = failure.detail, _DOING[failure.step]
    if fault is GraphFault.NOT_CONFIGURED:
        message = f"Exchange is not set up for this installation: {detail}"
        return _result(Outcome.PERMANENT, "ExchangeNotConfigured", message, detail)
    if fault is GraphFault.SECRET_MISSING:
        message = (
            f"The client secret of the app registration for Microsoft Graph could not be read from the secret "
            f"store (secret {detail}): store it under that name and let the app read it, or set "
            "MAILROOM_GRAPH_CREDENTIAL to managed-identity"
        )
        return _result(Outcome.PERMANENT, "GraphSecretUnavailable", message, detail)
    if fault is GraphFault.SECRET_UNREADABLE:
        message = f"The client secret for Microsoft Graph could not be read right now ({detail}); nothing was sent"
        return _result(Outcome.TRANSIENT, "GraphSecretUnreadable", message, detail)
    if fault is GraphFault.SIGN_IN_REFUSED:
        message = (
            f"Mailroom could not sign in to Microsoft Graph ({detail}): check the app registration's "
            "tenant id, client id and client secret, or the managed identity"
        )
        return _result(Outcome.PERMANENT, "GraphSignInFailed", message, detail)
    if failure.step.sends and failure.request_left:
        message = (
            f"No answer came from Microsoft Graph after the email was handed over for the mailbox "
            f"{failure.mailbox} ({detail or fault.value}); it may or may not have been sent. "
            "Check the mailbox's Sent Items before resending."
        )
        return _result(Outcome.UNCONFIRMED, "GraphNoAnswerAfterSend", message, detail)
    if fault is GraphFault.UNREACHABLE:
        message = f"Could not reach Microsoft Graph while {doing} ({detail}); nothing was sent"
        return _result(Outcome.TRANSIENT, "GraphUnreachable", message, detail)
    if fault is GraphFault.UPLOAD_INCOMPLETE:
        message = f"The upload of a large attachment did not complete ({detail}); nothing was sent"
        return _result(Outcome.TRANSIENT, "GraphUploadIncomplete", message, detail)
    reason = "stopped answering" if fault is GraphFault.TIMEOUT else "dropped the connection"
    message = f"Microsoft Graph {reason} while {doing} ({detail or fault.value}); nothing was sent"
    return _result(
        Outcome.TRANSIENT, "GraphTimedOut" if fault is GraphFault.TIMEOUT else "GraphConnectionLost", message, detail
    )


def mailbox_paused(mailbox: str, until: datetime, now: datetime) -> DeliveryResult:
    """Another email of this mailbox was throttled: this one waits too, without asking Graph."""
    message = (
        f"Exchange is throttling the mailbox {mailbox}: Mailroom holds its email until "
        f"{until:%H:%M:%S} UTC, as Exchange asked"
    )
    wait = max(0.0, (until - now).total_seconds())
    return _result(Outcome.TRANSIENT, MAILBOX_PAUSED, message, "", wait)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: Graph sends a number; an HTTP date is allowed too."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _result(
    outcome: Outcome, code: str, message: str, response: str, retry_after: float | None = None
) -> DeliveryResult:
    return DeliveryResult(
        outcome, message=message, code=code, provider_response=response, retry_after_seconds=retry_after
    )
