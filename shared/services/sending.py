"""Accepting a send request: validate, build the MIME, store, record and queue — or nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.email_ids import new_email_id
from shared.domain.history import AttachmentInfo, EmailRecord, Status
from shared.domain.mime import MessageContent, build_mime, needs_smtputf8
from shared.domain.queues import queue_for, queue_message
from shared.domain.send_request import SendRequest, parse_send_request
from shared.domain.senders import choose_sender
from shared.domain.users import User
from shared.errors import CannotHonour, Conflict, InvalidInput, MailroomError, TooLarge
from shared.ports import ContentStore, EmailQueue, HistoryStore
from shared.services.configuration import Configuration

log = logging.getLogger(__name__)

PROVIDER_LABELS = {
    "eml": "Use an email app, such as Outlook",
    "exchange": "Use Exchange email server",
    "smtp": "Use the system email client",
}
AVAILABLE_PROVIDERS = frozenset({"smtp"})


@dataclass(frozen=True)
class Accepted:
    id: str
    status: str


class Sending:
    def __init__(
        self,
        *,
        configuration: Configuration,
        history: HistoryStore,
        content: ContentStore,
        queue: EmailQueue,
        clock: Callable[[], datetime],
    ) -> None:
        self._configuration = configuration
        self._history = history
        self._content = content
        self._queue = queue
        self._clock = clock

    async def accept(self, body: Any) -> Accepted:
        request = parse_send_request(body)
        parameters = await self._configuration.parameters()
        user = await self._known_user(request.user)
        provider = self._provider(request, user, parameters.batch_provider)
        if provider not in AVAILABLE_PROVIDERS:
            raise CannotHonour(
                f"Sending through {provider!r} is not available in this version of Mailroom yet; use provider smtp",
                code="ProviderNotAvailable",
                field="provider",
            )
        sender = choose_sender(
            requested=request.from_,
            user=user,
            batch_through_exchange=request.mode == "batch" and provider == "exchange",
            batch_account=parameters.document["exchange"]["batchAccount"],
        )
        now = self._clock()
        email_id = new_email_id(now)
        utf8 = needs_smtputf8((sender.from_, *request.all_recipients))
        mime = build_mime(
            MessageContent(
                subject=request.subject,
                text=request.text,
                html=request.html,
                to=request.to,
                cc=request.cc,
                attachments=request.attachments,
            ),
            sender=sender.from_,
            message_id=f"<{email_id}@{sender.sender.rpartition('@')[2]}>",
            date=now,
            utf8=utf8,
            extra_headers=[("X-Mailroom-Id", email_id)],
        )
        if len(mime) > parameters.max_email_bytes:
            raise TooLarge(
                f"The email is {len(mime):,} bytes as it would be sent (attachments encoded), "
                f"over the limit of {parameters.max_email_bytes:,} bytes "
                f"({parameters.document['maxEmailSizeMb']} MiB): make the attachments smaller",
                code="EmailTooLarge",
                details={"sizeBytes": len(mime), "limitBytes": parameters.max_email_bytes},
            )
        record = EmailRecord(
            id=email_id,
            status=Status.QUEUED,
            mode=request.mode,
            provider=provider,
            priority=request.priority,
            user=user.user_id,
            sender=sender.sender,
            sender_rule=str(sender.rule),
            from_=str(sender.from_),
            to=tuple(str(m) for m in request.to),
            cc=tuple(str(m) for m in request.cc),
            bcc=tuple(str(m) for m in request.bcc),
            subject=request.subject,
            size_bytes=len(mime),
            created_at=now,
            updated_at=now,
            reference=request.reference,
            idempotency_key=request.idempotency_key,
            attachments=tuple(AttachmentInfo(a.name, len(a.content)) for a in request.attachments),
        )
        await self._store_and_queue(record, mime)
        await self._remember_choice(user, request, provider)
        return Accepted(id=email_id, status=str(Status.QUEUED))

    async def _known_user(self, user_id: str) -> User:
        try:
            return await self._configuration.user(user_id)
        except MailroomError as error:
            if error.code != "UserNotFound":
                raise
            raise CannotHonour(
                f"There is no user {user_id!r}: an administrator adds them with PUT /api/users/{user_id}",
                code="UnknownUser",
                field="user",
            ) from None

    @staticmethod
    def _provider(request: SendRequest, user: User, batch_provider: str) -> str:
        if request.mode == "batch":
            if request.provider not in (None, batch_provider):
                raise InvalidInput(
                    f"Batch email goes through the batch provider ({batch_provider}); "
                    f"leave provider out or set it to {batch_provider}",
                    code="InvalidProvider",
                    field="provider",
                )
            return batch_provider
        provider = request.provider or user.email_provider_id
        if provider is None:
            raise Conflict(
                "How would you like to send email? Choose a provider and send again "
                "(doNotAskAgain: true saves the choice)",
                code="ProviderChoiceRequired",
                field="provider",
                details={
                    "options": [
                        {"id": key, "label": label, "lastUsed": key == user.last_used_provider}
                        for key, label in PROVIDER_LABELS.items()
                    ]
                },
            )
        return provider

    async def _store_and_queue(self, record: EmailRecord, mime: bytes) -> None:
        """All three writes land, or none stays behind and the caller gets the error (503)."""
        done: list[str] = []
        try:
            await self._content.put(record.id, mime)
            done.append("content")
            await self._history.add(record)
            done.append("history")
            await self._queue.enqueue(queue_for(record.mode, record.priority), queue_message(record.id))
        except BaseException:
            await self._undo(record.id, done)
            raise

    async def _undo(self, email_id: str, done: list[str]) -> None:
        for step in reversed(done):
            try:
                if step == "history":
                    await self._history.delete(email_id)
                else:
                    await self._content.delete(email_id)
            except Exception:
                log.exception("could not undo %s of email %s after a failed send request", step, email_id)

    async def _remember_choice(self, user: User, request: SendRequest, provider: str) -> None:
        if request.mode != "interactive":
            return
        try:
            await self._configuration.remember_provider(
                user, provider, save_choice=request.do_not_ask_again and request.provider is not None
            )
        except MailroomError:
            log.warning("could not remember user %s's provider choice", user.user_id)
