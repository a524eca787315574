"""What a delivery result makes of an email's record: the dispatcher's one decision, pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.domain.delivery import DeliveryResult, Outcome
from shared.domain.history import EmailRecord, FailureDetails, Status
from shared.domain.retries import retry_delay


@dataclass(frozen=True)
class AfterDelivery:
    record: EmailRecord
    retry_in_seconds: float | None  # set when the email waits for another attempt


def after_delivery(
    record: EmailRecord,
    result: DeliveryResult,
    now: datetime,
    *,
    max_attempts: int,
    retry_base_seconds: float,
    final: bool = False,
) -> AfterDelivery:
    """Sent, Unconfirmed, Waiting (a transient failure with attempts left) or Failed.

    `final` is for an outcome nobody will retry (a test email, a message the host gave up on).
    """
    changes: dict[str, Any] = {
        "claimed_by": None,
        "claimed_at": None,
        "attempt_log": record.logged(now, str(result.outcome), result.provider_response or result.message),
    }
    if result.recipients:
        changes["recipients"] = result.recipients
    if result.outcome is Outcome.SENT:
        return AfterDelivery(record.moved_to(Status.SENT, now, sent_at=now, **changes), None)
    changes["last_failure_message"] = result.message
    changes["failure_details"] = FailureDetails(result.code, result.provider_response, now)
    if result.outcome is Outcome.UNCONFIRMED:
        return AfterDelivery(record.moved_to(Status.UNCONFIRMED, now, **changes), None)
    retryable = result.outcome is Outcome.TRANSIENT and not final
    if retryable and record.attempts < max_attempts:
        wait = retry_delay(
            record.attempts, base_seconds=retry_base_seconds, retry_after_seconds=result.retry_after_seconds
        )
        waiting = record.moved_to(Status.WAITING, now, next_attempt_at=now + timedelta(seconds=wait), **changes)
        return AfterDelivery(waiting, wait)
    if retryable:
        changes["last_failure_message"] = f"{result.message} (gave up after {record.attempts} attempts)"
    return AfterDelivery(record.moved_to(Status.FAILED, now, **changes), None)
