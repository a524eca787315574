"""Accepting a send request: validate, build the MIME, store, record and queue — or nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain import validation as v
from shared.domain.addresses import Mailbox, parse_address
from shared.domain.composition import compose_mime, new_record
from shared.domain.email_ids import new_email_id
from shared.domain.history import EmailRecord, Status
from shared.domain.parameters import EmailParameters
from shared.domain.queues import queue_for, queue_message
from shared.domain.send_request import SendRequest, parse_send_request
from shared.domain.senders import SenderChoice, SenderRule, choose_sender
from shared.domain.users import User
from shared.errors import CannotHonour, Conflict, InvalidInput, MailroomError
from shared.ports import ContentStore, EmailQueue, HistoryStore, IdempotencyStore
from shared.services.configuration import Configuration

log = logging.getLogger(__name__)

PROVIDER_LABELS = {
    "eml": "Use an email app, such as Outlook",
    "exchange": "Use Exchange email server",
    "smtp": "Use the system email client",
}
TEST_SUBJECT = "Mailroom test email"
TEST_TEXT = "This is a test email from Mailroom's Email parameters. If you can read it, sending works."
AVAILABLE_PROVIDERS = frozenset({"smtp", "exchange"})


@dataclass(frozen=True)
class Accepted:
    id: str
    status: str


@dataclass(frozen=True)
class GeneratedEml:
    id: str
    filename: str
    content: bytes


class Sending:
    def __init__(
        self,
        *,
        configuration: Configuration,
        history: HistoryStore,
        content: ContentStore,
        queue: EmailQueue,
        idempotency: IdempotencyStore,
        clock: Callable[[], datetime],
    ) -> None:
        self._configuration = configuration
        self._history = history
        self._content = content
        self._queue = queue
        self._idempotency = idempotency
        self._clock = clock

    async def accept(self, body: Any) -> Accepted | GeneratedEml:
        """A queued email (202) or, for the user's own mail app, an .eml draft (200)."""
        request = parse_send_request(body)
        parameters = await self._configuration.parameters()
        user = await self._known_user(request.user)
        provider = self._provider(request, user, parameters.batch_provider)
        result: Accepted | GeneratedEml
        if provider == "eml":
            result = await self._generate(request, user, parameters)
        elif provider not in AVAILABLE_PROVIDERS:
            raise CannotHonour(
                f"Sending through {provider!r} is not available in this version of Mailroom yet; use provider smtp",
                code="ProviderNotAvailable",
                field="provider",
            )
        else:
            result = await self._queue_email(request, user, parameters, provider, fingerprint(body))
        await self._remember_choice(user, request, provider)
        return result

    async def _queue_email(
        self, request: SendRequest, user: User, parameters: EmailParameters, provider: str, print_: str
    ) -> Accepted:
        sender = choose_sender(
            requested=request.from_,
            user=user,
            batch_through_exchange=request.mode == "batch" and provider == "exchange",
            batch_account=parameters.document["exchange"]["batchAccount"],
        )
        now = self._clock()
        email_id = new_email_id(now)
        if request.idempotency_key:
            earlier = await self._idempotency.claim(user.user_id, request.idempotency_key, email_id, print_)
            if earlier is not None:
                return await self._replay(request.idempotency_key, *earlier, print_)
        try:
            mime = compose_mime(request, sender.from_, email_id, now, parameters)
            record = new_record(request, user, provider, sender, email_id, now, mime, Status.QUEUED)
            await self._store(record, mime, queue=True)
        except BaseException:
            if request.idempotency_key:
                await self._idempotency.release(user.user_id, request.idempotency_key)
            raise
        return Accepted(id=email_id, status=str(Status.QUEUED))

    async def record_test_email(self, body: Any) -> str:
        """The Email parameters' Test email: recorded like any email, sent by the caller at once."""
        document = v.require_object(body, "body")
        v.reject_unknown(document, {"to", "from"})
        to = parse_address(document.get("to"), "to")
        parameters = await self._configuration.parameters()
        provider = parameters.batch_provider
        requested = None if document.get("from") is None else parse_address(document["from"], "from")
        if provider == "exchange":
            account = parameters.document["exchange"]["batchAccount"]
            sender = choose_sender(
                requested=None,
                user=User("administrator", account or ""),
                batch_through_exchange=True,
                batch_account=account,
            )
        elif requested is not None:
            sender = SenderChoice(requested, requested.address, SenderRule.REQUEST_FROM)
        else:
            raise InvalidInput(
                "from is required for a test email through SMTP: the address the SMTP account may send as",
                code="Required",
                field="from",
            )
        request = parse_send_request(
            {
                "user": "administrator",
                "mode": "batch",
                "to": [str(to)],
                "subject": TEST_SUBJECT,
                "body": {"text": TEST_TEXT},
                "reference": "Test email",
            }
        )
        now = self._clock()
        email_id = new_email_id(now)
        mime = compose_mime(request, sender.from_, email_id, now, parameters)
        record = new_record(
            request, User("administrator", sender.sender), provider, sender, email_id, now, mime, Status.QUEUED
        )
        await self._store(record, mime, queue=False)
        return email_id

    async def _replay(self, key: str, email_id: str, earlier_print: str, print_: str) -> Accepted:
        if earlier_print != print_:
            raise CannotHonour(
                f"idempotencyKey {key!r} was already used for a different email: use a new key for a new email",
                code="IdempotencyKeyReused",
                field="idempotencyKey",
            )
        if await self._history.get(email_id) is None:
            raise Conflict(
                f"An email with idempotencyKey {key!r} is being accepted right now: ask again in a moment",
                code="IdempotencyKeyInUse",
                field="idempotencyKey",
            )
        return Accepted(id=email_id, status=str(Status.QUEUED))

    async def _generate(self, request: SendRequest, user: User, parameters: EmailParameters) -> GeneratedEml:
        if request.from_ is not None:
            raise InvalidInput(
                "from does not apply to an .eml: the user's mail app sends it from the user's own account",
                code="InvalidCombination",
                field="from",
            )
        if request.idempotency_key is not None:
            raise InvalidInput(
                "idempotencyKey applies to emails Mailroom sends; an .eml is generated anew each time",
                code="InvalidCombination",
                field="idempotencyKey",
            )
        now = self._clock()
        email_id = new_email_id(now)
        mime = compose_mime(request, None, email_id, now, parameters)
        sender = SenderChoice(Mailbox(user.email, user.name), user.email, SenderRule.USER_MAIL_APP)
        record = new_record(request, user, "eml", sender, email_id, now, mime, Status.GENERATED)
        await self._store(record, mime, queue=False)
        return GeneratedEml(id=email_id, filename=eml_filename(request.subject), content=mime)

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

    async def _store(self, record: EmailRecord, mime: bytes, *, queue: bool) -> None:
        """Every write lands, or none stays behind and the caller gets the error (503)."""
        done: list[str] = []
        try:
            await self._content.put(record.id, mime)
            done.append("content")
            await self._history.add(record)
            done.append("history")
            if queue:
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


def fingerprint(body: Any) -> str:
    """What a request asked for, so a reused idempotency key with other content is caught."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def eml_filename(subject: str) -> str:
    """A file name from the subject that every file system and mail app accepts."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", subject).strip(" .")
    return f"{cleaned[:80].rstrip(' .') or 'email'}.eml"
