"""The composition root: builds the real adapters and services from settings, once per worker.

Async SDK clients belong to the event loop that made them, so the services are built per
running loop (a Functions worker has one; a test suite may have many).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.adapters.blob_storage import BlobContentStore
from shared.adapters.dev_secrets import FileSecretStore
from shared.adapters.queue_storage import StorageEmailQueue
from shared.adapters.smtp import SmtpTransport
from shared.adapters.table_storage import TableHistoryStore, TableParameterStore, Tables, TableUserStore
from shared.ports import HistoryStore
from shared.services.configuration import Configuration
from shared.services.dispatching import Dispatching
from shared.services.sending import Sending
from shared.settings import Settings, load_settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    configuration: Configuration
    sending: Sending
    dispatching: Dispatching
    history: HistoryStore
    _closers: tuple[Tables, StorageEmailQueue, BlobContentStore, SmtpTransport]

    async def aclose(self) -> None:
        for closer in self._closers:
            await closer.aclose()


def build_services(settings: Settings) -> Services:
    tables = Tables(settings.storage_connection)
    queue = StorageEmailQueue(settings.storage_connection, encoding=settings.queue_message_encoding)
    content = BlobContentStore(settings.storage_connection)
    transport = SmtpTransport(timeout=settings.smtp_timeout_seconds)
    history = TableHistoryStore(tables)
    configuration = Configuration(
        parameters=TableParameterStore(tables),
        users=TableUserStore(tables),
        secrets=FileSecretStore(settings.secrets_file),
        cache_seconds=settings.parameters_cache_seconds,
    )
    return Services(
        settings=settings,
        configuration=configuration,
        sending=Sending(configuration=configuration, history=history, content=content, queue=queue, clock=utc_now),
        dispatching=Dispatching(
            configuration=configuration,
            history=history,
            content=content,
            queue=queue,
            transport=transport,
            clock=utc_now,
            retry_base_seconds=settings.retry_base_seconds,
            max_attempts=settings.max_attempts,
            sending_lease_seconds=settings.sending_lease_seconds,
        ),
        history=history,
        _closers=(tables, queue, content, transport),
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
