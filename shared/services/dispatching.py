"""Dispatching one queued email: claim it, send it once, record what happened.

Queue delivery is at-least-once, so every step is safe to repeat: the history record moves
only forward through ETag-checked writes, a dispatcher claims an email (status `Sending`,
`claimedBy` = its queue message id) before sending, and an email whose sending was
interrupted is marked `Unconfirmed` rather than sent a second time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shared.domain.delivery import DeliveryResult, Outcome
from shared.domain.history import EmailRecord, FailureDetails, Status
from shared.domain.outgoing import OutgoingEmail
from shared.domain.parameters import EmailParameters
from shared.domain.queues import queue_for, queue_message
from shared.domain.retries import retry_delay
from shared.errors import DependencyUnavailable
from shared.ports import ContentStore, EmailQueue, ExchangeTransport, HistoryStore, MailTransport, StaleWrite
from shared.services.configuration import Configuration

log = logging.getLogger(__name__)

BATCH_PAUSED_RECHECK_SECONDS = 60
_CLAIM_ATTEMPTS = 5
_SAVE_ATTEMPTS = 4
INTERRUPTED = (
    "Sending this email was interrupted (the dispatcher stopped before the server's answer was "
    "recorded); it may or may not have been delivered. Check with a recipient before resending."
)


class UnreadableMessage(Exception):
    pass


def email_id_of(body: bytes) -> str:
    try:
        document = json.loads(body)
        email_id = document["id"]
    except (ValueError, TypeError, KeyError) as error:
        raise UnreadableMessage(f"not a Mailroom queue message: {body[:200]!r}") from error
    if not isinstance(email_id, str):
        raise UnreadableMessage(f"not a Mailroom queue message: {body[:200]!r}")
    return email_id


class Dispatching:
    def __init__(
        self,
        *,
        configuration: Configuration,
        history: HistoryStore,
        content: ContentStore,
        queue: EmailQueue,
        transport: MailTransport,
        exchange: ExchangeTransport | None = None,
        clock: Callable[[], datetime],
        retry_base_seconds: float,
        max_attempts: int,
        sending_lease_seconds: float,
    ) -> None:
        self._configuration = configuration
        self._history = history
        self._content = content
        self._queue = queue
        self._transport = transport
        self._exchange = exchange
        self._clock = clock
        self._retry_base = retry_base_seconds
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=sending_lease_seconds)

    async def dispatch(self, body: bytes, *, message_id: str) -> None:
        email_id = email_id_of(body)
        for _ in range(_CLAIM_ATTEMPTS):
            found = await self._history.get(email_id)
            if found is None:
                log.warning("email %s has no history record (never accepted, or purged): nothing to send", email_id)
                return
            try:
                await self._step(*found, message_id=message_id)
                return
            except StaleWrite:
                continue  # another dispatcher or an administrator changed it: look again
        raise RuntimeError(f"email {email_id} kept changing while the dispatcher tried to claim it")

    async def give_up(self, body: bytes, *, dequeue_count: int | None) -> None:
        """A message the host gave up on (poison): its email ends Failed, never silently."""
        email_id = email_id_of(body)
        for _ in range(_CLAIM_ATTEMPTS):
            found = await self._history.get(email_id)
            if found is None or found[0].status.is_final:
                return
            record, etag = found
            times = f" {dequeue_count} times" if dequeue_count else " repeatedly"
            result = (
                DeliveryResult(Outcome.UNCONFIRMED, INTERRUPTED, code="DispatcherInterrupted")
                if record.status is Status.SENDING
                else DeliveryResult(
                    Outcome.PERMANENT,
                    f"Mailroom could not process this email: dispatching it failed{times}. The "
                    "error is in the app's logs; resend the email once it is fixed.",
                    code="DispatchFailed",
                )
            )
            try:
                await self._record(record, etag, result, final=True)
                return
            except StaleWrite:
                continue

    async def _step(self, record: EmailRecord, etag: str, *, message_id: str) -> None:
        now = self._clock()
        if record.status.is_final:
            log.info("email %s is already %s: duplicate message ignored", record.id, record.status)
            return
        if record.status is Status.SENDING:
            if record.claimed_by == message_id or (record.claimed_at or now) + self._lease <= now:
                log.warning("email %s was being sent when its dispatcher stopped", record.id)
                await self._record(
                    record, etag, DeliveryResult(Outcome.UNCONFIRMED, INTERRUPTED, code="DispatcherInterrupted")
                )
            else:
                log.info("email %s is being sent by another dispatcher: duplicate message ignored", record.id)
            return
        parameters = await self._configuration.parameters()
        if now >= record.created_at + timedelta(days=parameters.expiration_days):
            await self._expire(record, etag, parameters, now)
            return
        if record.next_attempt_at and record.next_attempt_at > now + timedelta(seconds=1):
            await self._requeue(record, (record.next_attempt_at - now).total_seconds())
            return
        if record.mode == "batch" and not parameters.batch_processing:
            await self._requeue(record, BATCH_PAUSED_RECHECK_SECONDS)
            return
        claimed = record.moved_to(
            Status.SENDING,
            now,
            claimed_by=message_id,
            claimed_at=now,
            attempts=record.attempts + 1,
            next_attempt_at=None,
        )
        etag = await self._history.replace(claimed, etag)
        result = await self._deliver(claimed, parameters)
        await self._record(claimed, etag, result)

    async def _deliver(self, record: EmailRecord, parameters: EmailParameters) -> DeliveryResult:
        try:
            mime = await self._content.get(record.id)
        except DependencyUnavailable as error:
            return DeliveryResult(Outcome.TRANSIENT, error.message, code=error.code)
        if mime is None:
            return DeliveryResult(
                Outcome.PERMANENT,
                "The content of this email is missing from storage, so it cannot be sent: send it again",
                code="ContentMissing",
            )
        outgoing = OutgoingEmail(
            email_id=record.id,
            sender=record.sender,
            recipients=record.envelope_recipients,
            mime=mime,
            needs_smtputf8=not all(a.isascii() for a in (record.sender, *record.envelope_recipients)),
        )
        if record.provider == "exchange":
            return await self._send_through_exchange(outgoing)
        return await self._send_through_smtp(outgoing, parameters)

    async def _send_through_smtp(self, outgoing: OutgoingEmail, parameters: EmailParameters) -> DeliveryResult:
        try:
            password = None
            if parameters.document["smtp"]["userName"]:
                password = await self._configuration.smtp_password(parameters)
        except DependencyUnavailable as error:
            return DeliveryResult(Outcome.TRANSIENT, error.message, code=error.code)
        server = parameters.smtp_server(password)
        if not server.host:
            return DeliveryResult(
                Outcome.PERMANENT,
                "No SMTP server is set: an administrator sets smtp.server on the Email parameters",
                code="SmtpServerMissing",
            )
        return await self._transport.send(outgoing, server)

    async def _send_through_exchange(self, outgoing: OutgoingEmail) -> DeliveryResult:
        if self._exchange is None:
            return DeliveryResult(
                Outcome.PERMANENT,
                "Exchange is not set up for this installation: the app's Microsoft Graph settings are missing",
                code="ExchangeNotConfigured",
            )
        return await self._exchange.send(outgoing, mailbox=outgoing.sender)

    async def _record(self, record: EmailRecord, etag: str, result: DeliveryResult, *, final: bool = False) -> None:
        now = self._clock()
        changes: dict[str, Any] = {
            "claimed_by": None,
            "claimed_at": None,
            "attempt_log": record.logged(now, str(result.outcome), result.provider_response or result.message),
        }
        if result.recipients:
            changes["recipients"] = result.recipients
        retry_in: float | None = None
        if result.outcome is Outcome.SENT:
            status = Status.SENT
            changes["sent_at"] = now
        else:
            changes["last_failure_message"] = result.message
            changes["failure_details"] = FailureDetails(result.code, result.provider_response, now)
            retryable = result.outcome is Outcome.TRANSIENT and not final
            if result.outcome is Outcome.UNCONFIRMED:
                status = Status.UNCONFIRMED
            elif retryable and record.attempts < self._max_attempts:
                status = Status.WAITING
                retry_in = retry_delay(
                    record.attempts, base_seconds=self._retry_base, retry_after_seconds=result.retry_after_seconds
                )
                changes["next_attempt_at"] = now + timedelta(seconds=retry_in)
            else:
                status = Status.FAILED
                if retryable:
                    changes["last_failure_message"] = f"{result.message} (gave up after {record.attempts} attempts)"
        updated = record.moved_to(status, now, **changes)
        await self._save(updated, etag)
        log.info("email %s is %s%s", record.id, status, f": {result.message}" if result.message else "")
        if retry_in is not None:
            await self._requeue(updated, retry_in)

    async def _save(self, record: EmailRecord, etag: str) -> None:
        """The outcome must land: a lost write would make a sent email look interrupted."""
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                await self._history.replace(record, etag)
                return
            except DependencyUnavailable:
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)

    async def _expire(self, record: EmailRecord, etag: str, parameters: EmailParameters, now: datetime) -> None:
        expired = record.moved_to(
            Status.EXPIRED,
            now,
            last_failure_message=(
                f"Not sent within {parameters.expiration_days} days (the Email parameters' expiration), "
                "so it will not be sent: resend it if it is still wanted"
            ),
            failure_details=FailureDetails("Expired", "", now),
        )
        await self._history.replace(expired, etag)

    async def _requeue(self, record: EmailRecord, delay_seconds: float) -> None:
        await self._queue.enqueue(
            queue_for(record.mode, record.priority), queue_message(record.id), delay_seconds=delay_seconds
        )
