"""The email history record: one per email, from acceptance on, moving only forward."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from shared.domain.delivery import RecipientResult

MAX_LOGGED_ATTEMPTS = 10
MAX_RESPONSE_CHARS = 500


class Status(enum.StrEnum):
    QUEUED = "Queued"
    DEFERRED = "Deferred"
    WAITING = "Waiting"
    SENDING = "Sending"
    SENT = "Sent"
    UNCONFIRMED = "Unconfirmed"
    FAILED = "Failed"
    EXPIRED = "Expired"
    GENERATED = "Generated"

    @property
    def is_final(self) -> bool:
        return self in FINAL


FINAL = frozenset({Status.SENT, Status.UNCONFIRMED, Status.FAILED, Status.EXPIRED, Status.GENERATED})
RESENDABLE = frozenset({Status.FAILED, Status.EXPIRED, Status.UNCONFIRMED})
NEXT: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.SENDING, Status.DEFERRED, Status.EXPIRED, Status.FAILED}),
    Status.DEFERRED: frozenset({Status.SENDING, Status.DEFERRED, Status.EXPIRED, Status.FAILED}),
    Status.WAITING: frozenset({Status.SENDING, Status.EXPIRED, Status.FAILED}),
    Status.SENDING: frozenset({Status.SENT, Status.WAITING, Status.FAILED, Status.UNCONFIRMED, Status.DEFERRED}),
    # a final email moves again only when an administrator resends it
    Status.FAILED: frozenset({Status.QUEUED}),
    Status.EXPIRED: frozenset({Status.QUEUED}),
    Status.UNCONFIRMED: frozenset({Status.QUEUED}),
    Status.SENT: frozenset(),
    Status.GENERATED: frozenset(),
}


class IllegalTransition(Exception):
    pass


@dataclass(frozen=True)
class FailureDetails:
    code: str
    provider_response: str
    at: datetime


@dataclass(frozen=True)
class AttemptLog:
    at: datetime
    outcome: str
    response: str


@dataclass(frozen=True)
class AttachmentInfo:
    name: str
    size_bytes: int


@dataclass(frozen=True)
class EmailRecord:
    id: str
    status: Status
    mode: str
    provider: str
    user: str
    sender: str
    sender_rule: str
    from_: str
    to: tuple[str, ...]
    subject: str
    size_bytes: int
    created_at: datetime
    priority: str = "normal"
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reference: str | None = None
    template_id: str | None = None
    idempotency_key: str | None = None
    attachments: tuple[AttachmentInfo, ...] = ()
    sent_at: datetime | None = None
    attempts: int = 0
    deferrals: int = 0
    next_attempt_at: datetime | None = None
    last_failure_message: str | None = None
    failure_details: FailureDetails | None = None
    recipients: tuple[RecipientResult, ...] = ()
    attempt_log: tuple[AttemptLog, ...] = ()
    claimed_by: str | None = None  # the queue message whose dispatcher holds it while Sending
    claimed_at: datetime | None = None
    updated_at: datetime | None = None
    resent_at: datetime | None = None  # the administrator's latest resend

    def moved_to(self, status: Status, now: datetime, **changes: Any) -> EmailRecord:
        if status not in NEXT[self.status]:
            raise IllegalTransition(f"an email cannot move from {self.status} to {status}")
        return replace(self, status=status, updated_at=now, **changes)

    @property
    def waiting_since(self) -> datetime:
        """Expiry counts from acceptance, or from the latest resend: a resent email gets its full time again."""
        return self.resent_at or self.created_at

    def resent(self, now: datetime) -> EmailRecord:
        """Queued again as a new attempt on the same record: attempts keep counting, the earlier failure
        stays readable, and the throttle sees it afresh (deferrals start again from zero)."""
        return self.moved_to(
            Status.QUEUED,
            now,
            resent_at=now,
            next_attempt_at=None,
            claimed_by=None,
            claimed_at=None,
            deferrals=0,
            attempt_log=self.logged(now, "Resent", f"queued again by an administrator (was {self.status})"),
        )

    def logged(self, at: datetime, outcome: str, response: str) -> tuple[AttemptLog, ...]:
        entry = AttemptLog(at=at, outcome=outcome, response=response[:MAX_RESPONSE_CHARS])
        return (*self.attempt_log, entry)[-MAX_LOGGED_ATTEMPTS:]

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(bare_address(a) for a in (*self.to, *self.cc, *self.bcc)))

    def public(self) -> dict[str, Any]:
        """The record as the API shows it (SPEC's field names)."""
        details = self.failure_details
        return {
            "id": self.id,
            "status": str(self.status),
            "mode": self.mode,
            "provider": self.provider,
            "priority": self.priority,
            "user": self.user,
            "reference": self.reference,
            "templateId": self.template_id,
            "sender": self.sender,
            "senderRule": self.sender_rule,
            "from": self.from_,
            "to": list(self.to),
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "subject": self.subject,
            "sizeBytes": self.size_bytes,
            "attachments": [{"name": a.name, "sizeBytes": a.size_bytes} for a in self.attachments],
            "createdAt": _iso(self.created_at),
            "sentAt": _iso(self.sent_at),
            "attempts": self.attempts,
            "deferrals": self.deferrals,
            "nextAttemptAt": _iso(self.next_attempt_at),
            "resentAt": _iso(self.resent_at),
            "lastFailureMessage": self.last_failure_message,
            "failureDetails": None
            if details is None
            else {"code": details.code, "providerResponse": details.provider_response, "at": _iso(details.at)},
            "recipients": [
                {"address": r.address, "status": str(r.status), "response": r.response} for r in self.recipients
            ],
            "attemptLog": [{"at": _iso(a.at), "outcome": a.outcome, "response": a.response} for a in self.attempt_log],
        }


def bare_address(written: str) -> str:
    """`Alice <alice@contoso.com>` → `alice@contoso.com` (addresses are validated on the way in)."""
    if written.endswith(">") and "<" in written:
        return written[written.rindex("<") + 1 : -1]
    return written


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def as_plain_dict(value: Any) -> Any:
    return asdict(value)
