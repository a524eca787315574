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

from azure.identity.aio import DefaultAzureCredential

from shared.adapters.blob_storage import BlobContentStore
from shared.adapters.content_batches import BlobContentBatches
from shared.adapters.dev_secrets import FileSecretStore
from shared.adapters.graph_lazy import LazyGraphTransport
from shared.adapters.history_queries import TableHistoryQueries
from shared.adapters.idempotency_cleanup import TableIdempotencyCleanup
from shared.adapters.idempotency_table import TableIdempotencyStore
from shared.adapters.key_vault import KeyVaultSecretStore
from shared.adapters.mailbox_pauses import TableMailboxPauses
from shared.adapters.queue_inspection import StorageQueueFront
from shared.adapters.queue_storage import StorageEmailQueue
from shared.adapters.smtp import SmtpTransport
from shared.adapters.table_storage import TableHistoryStore, TableParameterStore, Tables, TableUserStore
from shared.adapters.throttle_table import TableThrottleStore
from shared.adapters.throttle_usage import TableThrottleUsage
from shared.ports import EmailQueue, ExchangeTransport, MailTransport, SecretStore
from shared.services.batch_status import BatchStatus
from shared.services.configuration import Configuration
from shared.services.dispatching import Dispatching
from shared.services.history import EmailHistory
from shared.services.resending import Resending
from shared.services.retention import Retention
from shared.services.sending import Sending
from shared.services.throttling import Throttling
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
    throttling: Throttling
    history: TableHistoryStore
    content: BlobContentStore
    queue: StorageEmailQueue
    tables: Tables
    email_history: EmailHistory
    batch_status: BatchStatus
    resending: Resending
    retention: Retention
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
    secrets: SecretStore | None = None,
    exchange: ExchangeTransport | None = None,
) -> Services:
    """The real adapters from settings; tests may hand in a transport, a queue, a clock, a secret store
    or an Exchange transport."""
    closers: list[_Closable] = []
    secrets_location = "Key Vault"
    if secrets is None:
        secrets, secrets_location = _secret_store(settings)
        if isinstance(secrets, KeyVaultSecretStore):
            closers.append(secrets)
    tables = Tables(settings.storage_connection)
    storage_queue = StorageEmailQueue(settings.storage_connection, encoding=settings.queue_message_encoding)
    content = BlobContentStore(settings.storage_connection)
    smtp = SmtpTransport(timeout=settings.smtp_timeout_seconds)
    graph = LazyGraphTransport(settings, secrets)  # imports msgraph on the first email through Exchange
    history = TableHistoryStore(tables)
    configuration = Configuration(
        parameters=TableParameterStore(tables),
        users=TableUserStore(tables),
        secrets=secrets,
        cache_seconds=settings.parameters_cache_seconds,
        secrets_location=secrets_location,
    )
    used_queue = queue or storage_queue
    throttling = Throttling(
        store=TableThrottleStore(tables), clock=clock, window_seconds=settings.throttle_window_seconds
    )
    queries = TableHistoryQueries(tables)
    content_batches = BlobContentBatches(settings.storage_connection)
    queue_front = StorageQueueFront(settings.storage_connection, encoding=settings.queue_message_encoding)
    email_history = EmailHistory(queries=queries, clock=clock)
    closers += [content_batches, queue_front]
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
        throttling=throttling,
        dispatching=Dispatching(
            configuration=configuration,
            history=history,
            content=content,
            queue=used_queue,
            transport=transport or smtp,
            throttling=throttling,
            exchange=exchange or graph,
            mailbox_pauses=TableMailboxPauses(tables),
            clock=clock,
            retry_base_seconds=settings.retry_base_seconds,
            max_attempts=settings.max_attempts,
            sending_lease_seconds=settings.sending_lease_seconds,
        ),
        history=history,
        content=content,
        queue=storage_queue,
        tables=tables,
        email_history=email_history,
        batch_status=BatchStatus(
            configuration=configuration,
            depths=storage_queue,
            front=queue_front,
            rows=queries,
            history=history,
            throttle=TableThrottleUsage(tables, window_seconds=settings.throttle_window_seconds, clock=clock),
            clock=clock,
        ),
        resending=Resending(
            history=history, content=content_batches, queue=used_queue, listing=email_history, clock=clock
        ),
        retention=Retention(
            rows=queries,
            history=history,
            content=content_batches,
            idempotency=TableIdempotencyCleanup(tables),
            configuration=configuration,
            clock=clock,
        ),
        _closers=(tables, storage_queue, content, smtp, graph, *closers),
    )


def _secret_store(settings: Settings) -> tuple[SecretStore, str]:
    """Key Vault where a vault URL is set (on Azure, signed in as the app's managed identity);
    otherwise the development file store, which warns that it is for development only."""
    if settings.key_vault_url:
        store = KeyVaultSecretStore(
            settings.key_vault_url, DefaultAzureCredential(), cache_seconds=settings.secret_cache_seconds
        )
        return store, "Key Vault"
    return FileSecretStore(settings.secrets_file), "the development secret store"


_built: dict[asyncio.AbstractEventLoop, tuple[Services, asyncio.Task[None]]] = {}


def services() -> Services:
    """The services of the running event loop, built from the environment on first use."""
    loop = asyncio.get_running_loop()
    found = _built.get(loop)
    if found is None:
        for stale in [known for known in _built if known.is_closed()]:
            del _built[stale]
        built = build_services(load_settings())
        found = _built[loop] = (built, loop.create_task(_close_when_the_loop_ends(built)))
    return found[0]


async def _close_when_the_loop_ends(built: Services) -> None:
    """Functions has no shutdown hook; but a loop that ends cancels its tasks, and this one then
    closes the clients, so no connection is left open behind a stopped worker."""
    try:
        await asyncio.Event().wait()
    finally:
        await built.aclose()


async def reset() -> None:
    """Forget the running loop's services (tests change settings between cases)."""
    found = _built.pop(asyncio.get_running_loop(), None)
    if found is not None:
        found[1].cancel()
        await asyncio.gather(found[1], return_exceptions=True)
