"""Delivering one claimed email through its provider: SMTP or Exchange."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.domain.delivery import DeliveryResult, Outcome
from shared.domain.graph_failures import THROTTLED, mailbox_paused
from shared.domain.history import EmailRecord
from shared.domain.outgoing import OutgoingEmail
from shared.domain.parameters import EmailParameters
from shared.errors import DependencyUnavailable, SecretUnavailable
from shared.ports import ContentStore, ExchangeTransport, MailboxPauses, MailTransport
from shared.services.configuration import Configuration

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self,
        *,
        configuration: Configuration,
        content: ContentStore,
        transport: MailTransport,
        exchange: ExchangeTransport | None,
        mailbox_pauses: MailboxPauses | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._configuration = configuration
        self._content = content
        self._transport = transport
        self._exchange = exchange
        self._mailbox_pauses = mailbox_pauses
        self._clock = clock

    async def deliver(self, record: EmailRecord, parameters: EmailParameters) -> DeliveryResult:
        """Hands the stored message to the email's provider; never raises for provider trouble."""
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
        """Signs in with the stored password; if the server refuses it, the store is read once more, as
        the password may have been rotated since this worker cached it, and a changed one is tried."""
        server = parameters.smtp_server(None)
        if not server.host:
            return DeliveryResult(
                Outcome.PERMANENT,
                "No SMTP server is set: an administrator sets smtp.server on the Email parameters",
                code="SmtpServerMissing",
            )
        if not server.user_name:
            return await self._transport.send(outgoing, server)
        try:
            password = await self._configuration.smtp_password(parameters)
            result = await self._transport.send(outgoing, parameters.smtp_server(password))
            if result.code != "SmtpAuthenticationFailed":
                return result
            self._configuration.forget_smtp_password(parameters)
            fresh = await self._configuration.smtp_password(parameters)
        except SecretUnavailable as error:
            outcome = Outcome.TRANSIENT if error.transient else Outcome.PERMANENT
            return DeliveryResult(outcome, error.message, code=error.code)
        except DependencyUnavailable as error:
            return DeliveryResult(Outcome.TRANSIENT, error.message, code=error.code)
        if fresh == password:
            return result
        log.info("email %s: the SMTP server refused the cached password; trying the store's new one", outgoing.email_id)
        return await self._transport.send(outgoing, parameters.smtp_server(fresh))

    async def _send_through_exchange(self, outgoing: OutgoingEmail) -> DeliveryResult:
        if self._exchange is None:
            return DeliveryResult(
                Outcome.PERMANENT,
                "Exchange is not set up for this installation: the app's Microsoft Graph settings are missing",
                code="ExchangeNotConfigured",
            )
        mailbox, pauses = outgoing.sender, self._mailbox_pauses
        try:
            until = await pauses.paused_until(mailbox) if pauses else None
        except DependencyUnavailable as error:
            return DeliveryResult(Outcome.TRANSIENT, error.message, code=error.code)
        now = self._clock()
        if until is not None and until > now:
            return mailbox_paused(mailbox, until, now)
        result = await self._exchange.send(outgoing, mailbox=mailbox)
        if pauses and result.code == THROTTLED and result.retry_after_seconds:
            try:
                await pauses.pause(mailbox, self._clock() + timedelta(seconds=result.retry_after_seconds))
            except DependencyUnavailable as error:  # this email still waits as Graph asked
                log.warning("could not record that Exchange throttled %s: %s", mailbox, error.message)
        return result
