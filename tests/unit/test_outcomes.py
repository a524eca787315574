"""What a delivery result makes of the record: the dispatcher's one decision."""

from datetime import UTC, datetime, timedelta

from shared.domain.delivery import DeliveryResult, Outcome, RecipientResult, RecipientStatus
from shared.domain.history import EmailRecord, Status
from shared.domain.outcomes import after_delivery
from tests.support.records import an_email

NOW = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)


def sending(attempts: int) -> EmailRecord:
    return an_email(NOW, status=Status.SENDING, attempts=attempts, claimed_by="m1", claimed_at=NOW)


def decide(attempts: int, result: DeliveryResult, **options: object):
    return after_delivery(sending(attempts), result, NOW, max_attempts=3, retry_base_seconds=60, **options)


def test_sent_keeps_each_recipients_answer_and_releases_the_claim() -> None:
    answers = (RecipientResult("a@contoso.com", RecipientStatus.ACCEPTED, "250 OK"),)
    done = decide(1, DeliveryResult.sent(answers, "250 queued"))
    assert done.record.status is Status.SENT and done.record.sent_at == NOW
    assert done.record.recipients == answers and done.record.claimed_by is None and done.retry_in_seconds is None


def test_a_transient_failure_waits_with_backoff_until_attempts_run_out() -> None:
    busy = DeliveryResult(Outcome.TRANSIENT, "try later", code="SmtpTransientReply", provider_response="451")
    first = decide(1, busy)
    assert first.record.status is Status.WAITING and first.retry_in_seconds == 60
    assert first.record.next_attempt_at == NOW + timedelta(seconds=60)
    assert decide(2, busy).retry_in_seconds == 120
    last = decide(3, busy)
    assert (
        last.record.status is Status.FAILED
        and last.record.last_failure_message == "try later (gave up after 3 attempts)"
    )
    asked = decide(1, DeliveryResult(Outcome.TRANSIENT, "slow down", retry_after_seconds=300))
    assert asked.retry_in_seconds == 300


def test_final_outcomes_are_never_retried() -> None:
    assert decide(1, DeliveryResult(Outcome.PERMANENT, "no such user")).record.status is Status.FAILED
    assert decide(1, DeliveryResult(Outcome.UNCONFIRMED, "lost after DATA")).record.status is Status.UNCONFIRMED
    test_email = decide(1, DeliveryResult(Outcome.TRANSIENT, "down"), final=True)
    assert test_email.record.status is Status.FAILED and test_email.record.last_failure_message == "down"
