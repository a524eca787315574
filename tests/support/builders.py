"""Real storage adapters on a test's Azurite, and small recording fakes for the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shared.adapters.blob_storage import BlobContentStore
from shared.adapters.dev_secrets import FileSecretStore
from shared.adapters.queue_storage import StorageEmailQueue
from shared.adapters.table_storage import TableHistoryStore, TableParameterStore, Tables, TableUserStore
from shared.domain.delivery import DeliveryResult, RecipientResult, RecipientStatus
from shared.domain.outgoing import OutgoingEmail, SmtpServer
from shared.services.configuration import Configuration
from shared.services.dispatching import Dispatching
from shared.services.sending import Sending


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
    tables: Tables
    queue: StorageEmailQueue
    content: BlobContentStore
    history: TableHistoryStore
    configuration: Configuration
    sending: Sending
    dispatching: Dispatching
    transport: RecordingTransport
    clock: Clock


@asynccontextmanager
async def service_stack(
    connection_string: str,
    secrets_file: Path,
    *,
    encoding: str = "base64",
    max_attempts: int = 3,
    queue: object | None = None,
) -> AsyncIterator[Stack]:
    tables = Tables(connection_string)
    real_queue = StorageEmailQueue(connection_string, encoding=encoding)
    content = BlobContentStore(connection_string)
    history = TableHistoryStore(tables)
    clock = Clock()
    transport = RecordingTransport()
    configuration = Configuration(
        parameters=TableParameterStore(tables),
        users=TableUserStore(tables),
        secrets=FileSecretStore(secrets_file),
        cache_seconds=0,
    )
    used_queue = queue or real_queue
    stack = Stack(
        tables=tables,
        queue=real_queue,
        content=content,
        history=history,
        configuration=configuration,
        sending=Sending(configuration=configuration, history=history, content=content, queue=used_queue, clock=clock),  # type: ignore[arg-type]
        dispatching=Dispatching(
            configuration=configuration,
            history=history,
            content=content,
            queue=used_queue,  # type: ignore[arg-type]
            transport=transport,
            clock=clock,
            retry_base_seconds=60,
            max_attempts=max_attempts,
            sending_lease_seconds=600,
        ),
        transport=transport,
        clock=clock,
    )
    try:
        yield stack
    finally:
        await tables.aclose()
        await real_queue.aclose()
        await content.aclose()
