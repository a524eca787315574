"""What happened when a provider was asked to send one email, in the domain's own terms.

Adapters (SMTP, Graph) translate their SDK's exceptions and replies into a `DeliveryResult`;
the dispatcher decides from `outcome` alone what the history record becomes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    SENT = "Sent"
    TRANSIENT = "Transient"  # nothing was delivered; trying again later may work
    PERMANENT = "Permanent"  # nothing was delivered; trying again will not help
    UNCONFIRMED = "Unconfirmed"  # the provider may have accepted it: never retried blindly


class RecipientStatus(enum.StrEnum):
    ACCEPTED = "Accepted"
    REFUSED = "Refused"
    PENDING = "Pending"


@dataclass(frozen=True)
class RecipientResult:
    address: str
    status: RecipientStatus
    response: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    message: str = ""  # plain words a user can act on; empty when sent
    code: str = ""  # a stable name for the failure, e.g. "SmtpAuthenticationFailed"
    provider_response: str = ""  # the provider's own reply, for the administrator
    recipients: tuple[RecipientResult, ...] = field(default_factory=tuple)
    retry_after_seconds: float | None = None  # when the provider said when to come back

    @classmethod
    def sent(cls, recipients: tuple[RecipientResult, ...], provider_response: str = "") -> DeliveryResult:
        return cls(Outcome.SENT, recipients=recipients, provider_response=provider_response)
