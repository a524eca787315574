"""The app's own composition root on a test's Azurite, with small recording fakes where a test
needs to script what a provider answers or what the clock says."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shared.bootstrap import Services, build_services
from shared.domain.delivery import DeliveryResult, RecipientResult, RecipientStatus
from shared.domain.outgoing import OutgoingEmail, SmtpServer
from shared.ports import EmailQueue, MailTransport
from shared.settings import load_settings


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RecordingTransport:
    """Answers with scripted results (default: every recipient accepted) and records each send."""

    results: list[DeliveryResult] = field(default_factory=list)
    sent: list[tuple[OutgoingEmail, SmtpServer]] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def send(self, email: OutgoingEmail, server: SmtpServer) -> DeliveryResult:
        self.sent.append((email, server))
        if self.gate is not None:
            await self.gate.wait()
        if self.results:
            return self.results.pop(0)
        return DeliveryResult.sent(
            tuple(RecipientResult(r, RecipientStatus.ACCEPTED, "250 OK") for r in email.recipients), "250 OK"
        )


@dataclass
class Stack:
    services: Services
    transport: RecordingTransport
    clock: Clock

    def __getattr__(self, name: str) -> object:
        return getattr(self.services, name)


@asynccontextmanager
async def service_stack(
    connection_string: str,
    secrets_file: Path,
    *,
    encoding: str = "base64",
    max_attempts: int = 3,
    queue: EmailQueue | None = None,
    transport: MailTransport | None = None,
) -> AsyncIterator[Stack]:
    """The real services; SMTP goes to `transport` if given, else to a RecordingTransport."""
    settings = load_settings(
        {
            "AzureWebJobsStorage": connection_string,
            "MAILROOM_SECRETS_FILE": str(secrets_file),
            "MAILROOM_PARAMETERS_CACHE_SECONDS": "0",
            "MAILROOM_MAX_ATTEMPTS": str(max_attempts),
        }
    )
    settings = dataclasses.replace(settings, queue_message_encoding=encoding)
    recording, clock = RecordingTransport(), Clock()
    services = build_services(settings, transport=transport or recording, queue=queue, clock=clock)
    try:
        yield Stack(services, recording, clock)
    finally:
        await services.aclose()
