"""Resend: an administrator queues a `Failed`, `Expired` or `Unconfirmed` email again, as a new
attempt on the same record — one email by id, or every email a history filter selects.

The move to `Queued` is an ETag-checked replace made before the queue message is sent: of two
resends of the same email (a double click, two administrators) exactly one wins the write and
queues a message; the other finds it `Queued` already and skips it. So an email is queued once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.domain.history import RESENDABLE, EmailRecord
from shared.domain.history_query import decode_cursor, encode_cursor, parse_filter
from shared.domain.queues import queue_for, queue_message
from shared.errors import CannotHonour, Conflict, InvalidInput, NotFound
from shared.ports import EmailQueue, HistoryStore, StaleWrite
from shared.services.history import EmailHistory

log = logging.getLogger(__name__)

MAX_PER_CALL = 500  # a bulk resend answers after this many; its continuationToken goes on
MAX_PAGES_PER_CALL = 8  # history pages (each within the listing's scan budget) one call may search
_CONCURRENCY = 16
QUEUED, CHANGED, CONTENT_MISSING, NOT_RESENDABLE = "Queued", "Changed", "ContentMissing", "NotResendable"


class ContentCheck(Protocol):
    async def exists(self, email_id: str) -> bool: ...


class Resending:
    def __init__(
        self,
        *,
        history: HistoryStore,
        content: ContentCheck,
        queue: EmailQueue,
        listing: EmailHistory,
        clock: Callable[[], datetime],
    ) -> None:
        self._history = history
        self._content = content
        self._queue = queue
        self._listing = listing
        self._clock = clock

    async def resend(self, email_id: str) -> dict[str, Any]:
        """`POST /emails/{id}/resend`: 202-worthy `{"id", "status": "Queued"}`, or why not."""
        found = await self._history.get(email_id)
        if found is None:
            raise NotFound(f"There is no email with id {email_id!r}", code="EmailNotFound")
        outcome = await self._resend(*found)
        if outcome == CONTENT_MISSING:
            raise CannotHonour(
                "The content of this email is no longer in storage, so it cannot be sent again: send a new email",
                code="ContentMissing",
            )
        if outcome != QUEUED:
            current = await self._history.get(email_id)
            status = current[0].status if current else found[0].status
            raise Conflict(
                f"Only Failed, Expired or Unconfirmed email can be resent; this one is {status}"
                + (" (it was queued again already)" if status == "Queued" else ""),
                code="NotResendable",
                details={"status": str(status)},
            )
        return {"id": email_id, "status": QUEUED}

    async def resend_matching(self, body: Any) -> dict[str, Any]:
        """`POST /emails/resend`: every resendable email a history filter selects, counted."""
        if not isinstance(body, dict):
            raise InvalidInput("The body must be a JSON object: a history filter", code="InvalidJson", field="body")
        query = parse_filter(body, extra=frozenset({"continuationToken"}))
        if any(status not in RESENDABLE for status in query.statuses):
            raise InvalidInput(
                "status may only name Failed, Expired or Unconfirmed: only those can be resent",
                code="InvalidChoice",
                field="status",
            )
        query = dataclasses.replace(query, statuses=query.statuses or tuple(sorted(RESENDABLE)))
        token = body.get("continuationToken")
        cursor = decode_cursor(token, query) if isinstance(token, str) and token else None
        outcomes: Counter[str] = Counter()
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def one(record: EmailRecord, etag: str) -> None:
            async with gate:
                outcome = await self._resend(record, etag)
                outcomes[outcome] += 1

        for _ in range(MAX_PAGES_PER_CALL):
            page = await self._listing.page(query, top=100, cursor=cursor)
            await asyncio.gather(*(one(record, etag) for record, etag in page.items))
            cursor = page.cursor
            if cursor is None or outcomes.total() >= MAX_PER_CALL:
                break
        queued = outcomes.pop(QUEUED, 0)
        answer: dict[str, Any] = {"queued": queued, "skipped": outcomes.total(), "skippedReasons": dict(outcomes)}
        if cursor is not None:
            answer["continuationToken"] = encode_cursor(cursor, query)
            answer["scanLimited"] = True  # stopped to keep the call short: call again with the token
        log.info("resend by filter: %d queued, %d skipped %s", queued, outcomes.total(), dict(outcomes))
        return answer

    async def _resend(self, record: EmailRecord, etag: str) -> str:
        if record.status not in RESENDABLE:
            return NOT_RESENDABLE
        if not await self._content.exists(record.id):
            return CONTENT_MISSING
        resent = record.resent(self._clock())
        try:
            new_etag = await self._history.replace(resent, etag)
        except StaleWrite:
            return CHANGED  # resent by someone else just now, or moved on: not queued twice
        try:
            await self._queue.enqueue(queue_for(record.mode, record.priority), queue_message(record.id))
        except BaseException:
            await self._undo(record, new_etag)
            raise
        log.info("email %s was %s: queued again (attempt %d next)", record.id, record.status, record.attempts + 1)
        return QUEUED

    async def _undo(self, record: EmailRecord, etag: str) -> None:
        """The message could not be queued: put the record back as it was, so it can be resent again."""
        try:
            await self._history.replace(record, etag)
        except Exception:
            log.exception("email %s is Queued without a queue message; it will expire unless resent", record.id)
