"""The composition root: builds the real adapters and services from settings, once per worker.

Async SDK clients belong to the event loop that made them, so the services are built per
running loop (a Functions worker has one; a test suite may have many).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from shared.adapters.blob_storage import BlobContentStore
from shared.adapters.dev_secrets import FileSecretStore
from shared.adapters.idempotency_table import TableIdempotencyStore
from shared.adapters.queue_storage import StorageEmailQueue
from shared.adapters.smtp import SmtpTransport
from shared.adapters.table_storage import TableHistoryStore, TableParameterStore, Tables, TableUserStore
from shared.ports import EmailQueue, MailTransport
from shared.services.configuration import Configuration
from shared.services.dispatching import Dispatching
from shared.services.sending import Sending
from shared.settings import Settings, load_settings


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Closable(Protocol):
    async def aclose(self) -> None: ...


@dataclass
class Services:
    settings: Settings
    configuration: Configuration
    sending: Sending
    dispatching: Dispatching
    history: TableHistoryStore
    content: BlobContentStore
    queue: StorageEmailQueue
    tables: Tables
    _closers: tuple[_Closable, ...]

    async def aclose(self) -> None:
        for closer in self._closers:
            await closer.aclose()


def build_services(
    settings: Settings,
    *,
    transport: MailTransport | None = None,
    queue: EmailQueue | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Services:
    """The real adapters from settings; tests may hand in a transport, a queue or a clock."""
    tables = Tables(settings.storage_connection)
    storage_queue = StorageEmailQueue(settings.storage_connection, encoding=settings.queue_message_encoding)
    content = BlobContentStore(settings.storage_connection)
    smtp = SmtpTransport(timeout=settings.smtp_timeout_seconds)
    history = TableHistoryStore(tables)
    configuration = Configuration(
        parameters=TableParameterStore(tables),
        users=TableUserStore(tables),
        secrets=FileSecretStore(settings.secrets_file),
        cache_seconds=settings.parameters_cache_seconds,
    )
    used_queue = queue or storage_queue
    return Services(
        settings=settings,
        configuration=configuration,
        sending=Sending(
            configuration=configuration,
            history=history,
            content=content,
            queue=used_queue,
            idempotency=TableIdempotencyStore(tables),
            clock=clock,
        ),
        dispatching=Dispatching(
            configuration=configuration,
            history=history,
            content=content,
            queue=used_queue,
            transport=transport or smtp,
            clock=clock,
            retry_base_seconds=settings.retry_base_seconds,
            max_attempts=settings.max_attempts,
            sending_lease_seconds=settings.sending_lease_seconds,
        ),
        history=history,
        content=content,
        queue=storage_queue,
        tables=tables,
        _closers=(tables, storage_queue, content, smtp),
    )


_built: dict[asyncio.AbstractEventLoop, Services] = {}


def services() -> Services:
    """The services of the running event loop, built from the environment on first use."""
    loop = asyncio.get_running_loop()
    found = _built.get(loop)
    if found is None:
        for stale in [known for known in _built if known.is_closed()]:
            del _built[stale]
        found = _built[loop] = build_services(load_settings())
    return found


async def reset() -> None:
    """Forget the running loop's services (tests change settings between cases)."""
    found = _built.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.aclose()
