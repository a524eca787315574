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
from dataclasses import replace
from datetime import datetime, timedelta

from shared.domain.delivery import DeliveryResult, Outcome
from shared.domain.graph_failures import mailbox_paused
from shared.domain.history import EmailRecord, FailureDetails, Status
from shared.domain.outcomes import after_delivery
from shared.domain.parameters import EmailParameters
from shared.domain.queues import queue_for, queue_message
from shared.errors import DependencyUnavailable
from shared.ports import (
    ContentStore,
    EmailQueue,
    ExchangeTransport,
    HistoryStore,
    MailboxPauses,
    MailTransport,
    StaleWrite,
)
from shared.services.configuration import Configuration
from shared.services.delivery import Delivery
from shared.services.throttling import Decision, Throttling

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
        throttling: Throttling | None = None,
        mailbox_pauses: MailboxPauses | None = None,
        clock: Callable[[], datetime],
        retry_base_seconds: float,
        max_attempts: int,
        sending_lease_seconds: float,
    ) -> None:
        self._configuration = configuration
        self._history = history
        self._content = content
        self._queue = queue
        self._delivery = Delivery(
            configuration=configuration,
            content=content,
            transport=transport,
            exchange=exchange,
            mailbox_pauses=mailbox_pauses,
            clock=clock,
        )
        self._throttling = throttling
        self._mailbox_pauses = mailbox_pauses  # Graph said 429: that mailbox's email waits, on every instance
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

    async def send_now(self, email_id: str) -> EmailRecord:
        """The test email: sent at once, outside the queue and the throttle; whatever happens is
        its final outcome (an administrator is waiting for the answer, not for a retry)."""
        found = await self._history.get(email_id)
        if found is None:
            raise RuntimeError(f"the test email {email_id} was not recorded")
        record, etag = found
        now = self._clock()
        claimed = record.moved_to(Status.SENDING, now, claimed_by="test-email", claimed_at=now, attempts=1)
        etag = await self._history.replace(claimed, etag)
        result = await self._delivery.deliver(claimed, await self._configuration.parameters())
        await self._record(claimed, etag, result, final=True)
        sent = await self._history.get(email_id)
        assert sent is not None
        return sent[0]

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
        if now >= record.waiting_since + timedelta(days=parameters.expiration_days):
            await self._expire(record, etag, parameters, now)
            return
        if record.next_attempt_at and record.next_attempt_at > now + timedelta(seconds=1):
            await self._requeue(record, (record.next_attempt_at - now).total_seconds())
            return
        if record.mode == "batch" and not parameters.batch_processing:
            await self._requeue(record, BATCH_PAUSED_RECHECK_SECONDS)
            return
        if await self._held_by_exchange(record, etag, now):
            return
        log_entries = record.attempt_log
        if self._throttling is not None:
            decision = await self._throttling.admit(record, parameters)
            if decision.defer_for is not None:
                await self._defer(record, etag, decision, now)
                return
            if decision.note:
                log_entries = record.logged(now, "Throttle", decision.note)
        claimed = record.moved_to(
            Status.SENDING,
            now,
            claimed_by=message_id,
            claimed_at=now,
            attempts=record.attempts + 1,
            next_attempt_at=None,
            attempt_log=log_entries,
        )
        etag = await self._history.replace(claimed, etag)
        result = await self._delivery.deliver(claimed, parameters)
        await self._record(claimed, etag, result)

    async def _record(self, record: EmailRecord, etag: str, result: DeliveryResult, *, final: bool = False) -> None:
        outcome = after_delivery(
            record,
            result,
            self._clock(),
            max_attempts=self._max_attempts,
            retry_base_seconds=self._retry_base,
            final=final,
        )
        updated = outcome.record
        await self._save(updated, etag)
        if updated.status.is_final:
            await self._leave_throttle_backlog(updated)
        log.info("email %s is %s%s", record.id, updated.status, f": {result.message}" if result.message else "")
        if outcome.retry_in_seconds is not None:
            await self._requeue(updated, outcome.retry_in_seconds)

    async def _held_by_exchange(self, record: EmailRecord, etag: str, now: datetime) -> bool:
        """Exchange throttled this mailbox (429): its email waits out the pause without using an
        attempt; the record says why and until when."""
        if record.provider != "exchange" or self._mailbox_pauses is None:
            return False
        until = await self._mailbox_pauses.paused_until(record.sender)
        if until is None or until <= now:
            return False
        held = mailbox_paused(record.sender, until, now)
        await self._history.replace(
            replace(record, next_attempt_at=until, last_failure_message=held.message, updated_at=now), etag
        )
        await self._requeue(record, (until - now).total_seconds())
        return True

    async def _defer(self, record: EmailRecord, etag: str, decision: Decision, now: datetime) -> None:
        """Over the limit: back on the queue, invisible for at most one window, and counted."""
        assert decision.defer_for is not None
        deferred = record.moved_to(
            Status.DEFERRED,
            now,
            deferrals=record.deferrals + 1,
            next_attempt_at=now + decision.defer_for,
            attempt_log=record.logged(now, "Deferred", decision.note or ""),
        )
        await self._history.replace(deferred, etag)
        await self._requeue(deferred, decision.defer_for.total_seconds())

    async def _leave_throttle_backlog(self, record: EmailRecord) -> None:
        if self._throttling is None:
            return
        try:
            await self._throttling.leave_backlog(record)
        except DependencyUnavailable:
            log.warning("email %s stays in the throttle backlog until the rebalancer drops it", record.id)

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
        await self._leave_throttle_backlog(expired)

    async def _requeue(self, record: EmailRecord, delay_seconds: float) -> None:
        await self._queue.enqueue(
            queue_for(record.mode, record.priority), queue_message(record.id), delay_seconds=delay_seconds
        )
