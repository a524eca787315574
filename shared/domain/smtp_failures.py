"""Why an SMTP attempt failed, in words a user can act on.

The SMTP adapter reduces every failure to an `SmtpFailure`: where in the session it happened,
and either what the server replied or what went wrong on the wire. `classify` turns that into
a `DeliveryResult`: 4xx replies and failures before the message left are transient, 5xx
replies and configuration problems are permanent, and a connection lost after the content was
sent is unconfirmed, because the server may have accepted the message.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.domain.delivery import DeliveryResult, Outcome, RecipientResult, RecipientStatus


class SmtpPhase(enum.StrEnum):
    CONNECT = "connect"  # TCP connection, implicit TLS handshake and the server's greeting
    TLS = "tls"  # STARTTLS
    EHLO = "ehlo"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command, before any content left
    AFTER_DATA_SENT = "after-data-sent"  # the content is on its way or awaits its reply


class SmtpFault(enum.StrEnum):
    """What went wrong when the server gave no reply to judge by."""

    CONNECTION_REFUSED = "connection refused"
    HOST_UNREACHABLE = "host unreachable"
    NAME_NOT_RESOLVED = "name not resolved"
    CONNECTION_FAILED = "connection failed"  # any other failure to open the connection
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection lost"
    TLS_CERTIFICATE = "TLS certificate"
    TLS_HANDSHAKE = "TLS handshake"
    STARTTLS_NOT_OFFERED = "STARTTLS not offered"
    AUTH_NOT_OFFERED = "AUTH not offered"
    AUTH_MECHANISM_UNSUPPORTED = "no supported AUTH mechanism"
    CREDENTIALS_MISSING = "credentials missing"
    SMTPUTF8_NOT_OFFERED = "SMTPUTF8 not offered"
    ADDRESS_INVALID = "address invalid"
    OTHER = "other"


_ENHANCED_STATUS = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\b")
_SEND_AS_DENIED = re.compile(r"send\s*as\s*denied|not allowed to send as|send on behalf", re.I)
_CREDENTIALS_STATUSES = {"5.7.8", "5.7.57", "5.7.139"}


@dataclass(frozen=True)
class SmtpReply:
    code: int
    text: str

    @property
    def enhanced_status(self) -> str | None:
        """The RFC 3463 status after the code, e.g. "5.7.57", when the server gave one."""
        match = _ENHANCED_STATUS.match(self.text.strip())
        return match.group(1) if match else None

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


@dataclass(frozen=True)
class SmtpFailure:
    """One failed SMTP attempt, as facts: a server reply, or a fault without one."""

    phase: SmtpPhase
    host: str
    port: int
    reply: SmtpReply | None = None
    fault: SmtpFault | None = None
    detail: str = ""  # the low-level reason (an OS or TLS error text, offered mechanisms)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


AUTH_UNAVAILABLE = "If your SMTP server doesn't support authentication, please clear the SMTP user name and password"
CREDENTIALS_REJECTED = "The SMTP server rejected the credentials: verify the SMTP user name and password"
SEND_AS_DENIED = (
    "Client does not have permissions to send as this sender: grant Send As / Send On Behalf Of for the SMTP account"
)

_DOING = {
    SmtpPhase.CONNECT: "connecting",
    SmtpPhase.TLS: "starting TLS",
    SmtpPhase.EHLO: "greeting the server",
    SmtpPhase.AUTH: "signing in",
    SmtpPhase.MAIL: "sending the sender address",
    SmtpPhase.RCPT: "sending the recipients",
    SmtpPhase.DATA: "starting the message content",
    SmtpPhase.AFTER_DATA_SENT: "sending the message",
}
_REFUSED = {
    SmtpPhase.CONNECT: "refused the connection",
    SmtpPhase.TLS: "refused STARTTLS",
    SmtpPhase.EHLO: "refused the greeting",
    SmtpPhase.AUTH: "refused to sign in",
    SmtpPhase.MAIL: "refused the sender",
    SmtpPhase.RCPT: "refused the recipient",
    SmtpPhase.DATA: "refused to take the message content",
    SmtpPhase.AFTER_DATA_SENT: "refused the message",
}
_CONNECT_REASONS = {
    SmtpFault.CONNECTION_REFUSED: "connection refused",
    SmtpFault.HOST_UNREACHABLE: "the network cannot reach it",
    SmtpFault.NAME_NOT_RESOLVED: "the server name could not be resolved; check the SMTP server",
    SmtpFault.TIMEOUT: "no answer in time",
    SmtpFault.CONNECTION_LOST: "the server closed the connection before greeting",
}


def classify(failure: SmtpFailure) -> DeliveryResult:
    """The outcome of a failed attempt and what the user reads about it."""
    if failure.reply is not None:
        return _classify_reply(failure, failure.reply)
    return _classify_fault(failure, failure.fault or SmtpFault.OTHER)


def classify_refusals(host: str, port: int, refusals: Sequence[tuple[str, SmtpReply]]) -> DeliveryResult:
    """Every recipient was refused: transient only when every refusal was a 4xx."""
    transient = all(400 <= reply.code < 500 for _, reply in refusals)
    listed = "; ".join(f"{address} ({reply})" for address, reply in refusals)
    return DeliveryResult(
        Outcome.TRANSIENT if transient else Outcome.PERMANENT,
        message=f"The SMTP server {host}:{port} refused every recipient: {listed}",
        code="SmtpRecipientsRefused",
        provider_response="\n".join(str(reply) for _, reply in refusals),
        recipients=tuple(RecipientResult(address, RecipientStatus.REFUSED, str(reply)) for address, reply in refusals),
    )


def _classify_reply(failure: SmtpFailure, reply: SmtpReply) -> DeliveryResult:
    response = str(reply)
    permanent = 500 <= reply.code < 600
    if permanent and _rejects_credentials(reply):
        return _result(Outcome.PERMANENT, "SmtpAuthenticationFailed", CREDENTIALS_REJECTED, response)
    if permanent and (reply.enhanced_status == "5.7.60" or _SEND_AS_DENIED.search(reply.text)):
        return _result(Outcome.PERMANENT, "SmtpSendAsDenied", SEND_AS_DENIED, response)
    refused = _REFUSED[failure.phase]
    if 400 <= reply.code < 500:
        message = f"The SMTP server {failure.server} temporarily {refused}: {response}"
        return _result(Outcome.TRANSIENT, "SmtpTransientReply", message, response)
    if permanent:
        message = f"The SMTP server {failure.server} {refused}: {response}"
        return _result(Outcome.PERMANENT, "SmtpPermanentReply", message, response)
    if failure.phase is SmtpPhase.AFTER_DATA_SENT:
        message = (
            f"The SMTP server {failure.server} answered the message with an unexpected reply "
            f"({response}); it may or may not have been delivered. "
            "Check the recipient's inbox before resending."
        )
        return _result(Outcome.UNCONFIRMED, "SmtpUnexpectedReply", message, response)
    message = (
        f"The SMTP server {failure.server} gave an unexpected reply while "
        f"{_DOING[failure.phase]} ({response}): check that the port is the server's SMTP port"
    )
    return _result(Outcome.PERMANENT, "SmtpUnexpectedReply", message, response)


def _rejects_credentials(reply: SmtpReply) -> bool:
    if reply.code == 535 or reply.enhanced_status in _CREDENTIALS_STATUSES:
        return True
    # 530 5.7.0 is "authentication required"; Gmail also uses it for "issue STARTTLS first"
    return reply.code == 530 and "starttls" not in reply.text.lower()


# Problems of configuration or of the server's abilities: sending again will not help.
_PERMANENT_FAULTS: dict[SmtpFault, tuple[str, str]] = {
    SmtpFault.TLS_CERTIFICATE: (
        "SmtpTlsFailed",
        "The TLS certificate of the SMTP server {server} could not be verified ({detail}): "
        "the server needs a certificate from a trusted authority that names this server",
    ),
    SmtpFault.TLS_HANDSHAKE: (
        "SmtpTlsFailed",
        "The TLS handshake with the SMTP server {server} failed ({detail}): check that the port "
        "matches the server's TLS mode (465 for implicit TLS, 587 for STARTTLS)",
    ),
    SmtpFault.STARTTLS_NOT_OFFERED: (
        "SmtpStartTlsUnavailable",
        "The SMTP server {server} does not offer STARTTLS, and SSL is required: enable TLS on the "
        "server, use its implicit TLS port 465, or turn off SSL required on the Email parameters",
    ),
    SmtpFault.AUTH_NOT_OFFERED: (
        "SmtpAuthUnavailable",
        "The SMTP server {server} does not offer AUTH. " + AUTH_UNAVAILABLE,
    ),
    SmtpFault.AUTH_MECHANISM_UNSUPPORTED: (
        "SmtpAuthMechanismUnsupported",
        "The SMTP server {server} offers no sign-in method Mailroom supports (it offers {detail}; "
        "Mailroom signs in with LOGIN, PLAIN or CRAM-MD5): enable one on the server",
    ),
    SmtpFault.CREDENTIALS_MISSING: (
        "SmtpCredentialsMissing",
        "The Email parameters say the SMTP server requires authentication, but no SMTP user name "
        "is set: enter the SMTP user name and password",
    ),
    SmtpFault.SMTPUTF8_NOT_OFFERED: (
        "SmtpUtf8Unavailable",
        "An address of this email has non-ASCII characters, and the SMTP server {server} does "
        "not accept them (it does not offer SMTPUTF8): use an ASCII address or a server that "
        "supports SMTPUTF8",
    ),
    SmtpFault.ADDRESS_INVALID: (
        "SmtpInvalidAddress",
        "The address {detail} cannot be sent over SMTP: correct it and resend",
    ),
}


def _classify_fault(failure: SmtpFailure, fault: SmtpFault) -> DeliveryResult:
    if fault not in _PERMANENT_FAULTS:
        return _classify_lost(failure, fault)
    code, template = _PERMANENT_FAULTS[fault]
    message = template.format(server=failure.server, detail=failure.detail or "none")
    return _result(Outcome.PERMANENT, code, message, failure.detail)


def _classify_lost(failure: SmtpFailure, fault: SmtpFault) -> DeliveryResult:
    """Network trouble: transient while nothing was sent, unconfirmed once it may have been."""
    server, detail = failure.server, failure.detail
    if failure.phase is SmtpPhase.AFTER_DATA_SENT:
        how = (
            f"No confirmation came from {server} in time"
            if fault is SmtpFault.TIMEOUT
            else f"The connection to {server} was lost"
        )
        message = (
            f"{how} after the message was sent and before the server confirmed it; it may or "
            "may not have been delivered. Check the recipient's inbox before resending."
        )
        return _result(Outcome.UNCONFIRMED, "SmtpConnectionLostAfterData", message, detail)
    if failure.phase is SmtpPhase.CONNECT:
        reason = _CONNECT_REASONS.get(fault, detail or fault.value)
        message = f"Could not connect to the SMTP server {server}: {reason}"
        return _result(Outcome.TRANSIENT, "SmtpConnectionFailed", message, detail)
    doing = _DOING[failure.phase]
    if fault is SmtpFault.TIMEOUT:
        message = f"The SMTP server {server} stopped answering while {doing}; nothing was sent"
        return _result(Outcome.TRANSIENT, "SmtpTimedOut", message, detail)
    if fault is SmtpFault.CONNECTION_LOST:
        message = f"The connection to the SMTP server {server} was lost while {doing}; nothing was sent"
        return _result(Outcome.TRANSIENT, "SmtpConnectionLost", message, detail)
    reason = f" ({detail})" if detail else ""
    message = f"The session with the SMTP server {server} failed while {doing}{reason}; nothing was sent"
    return _result(Outcome.TRANSIENT, "SmtpSessionFailed", message, detail)


def _result(outcome: Outcome, code: str, message: str, response: str) -> DeliveryResult:
    return DeliveryResult(outcome, message=message, code=code, provider_response=response)
