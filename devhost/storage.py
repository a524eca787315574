"""Queue clients for the storage accounts the triggers name, one HTTP session per account.

Azurite closes a connection after 5 s idle while the SDK's pool would keep it for 15 s, and
the storage SDK's default retry then waits ~15 s before trying again: a listener polling
every few seconds would stall or fail at random. So sessions drop idle connections after 3 s
and the SDK retries twice within about two seconds; the listeners retry beyond that.
"""

from __future__ import annotations

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport
from azure.storage.queue.aio import QueueClient, QueueServiceClient

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_CONNECTION_STRING = (
    f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
    f"BlobEndpoint=http://127.0.0.1:10000/{AZURITE_ACCOUNT};"
    f"QueueEndpoint=http://127.0.0.1:10001/{AZURITE_ACCOUNT};"
    f"TableEndpoint=http://127.0.0.1:10002/{AZURITE_ACCOUNT};"
)
IDLE_CONNECTION_SECONDS = 3.0


def expand_development_storage(connection_string: str) -> str:
    """`UseDevelopmentStorage=true` means Azurite on its default ports, as the SDKs read it."""
    parts = {
        key.strip().lower(): value.strip()
        for key, _, value in (item.partition("=") for item in connection_string.split(";"))
        if key.strip()
    }
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return AZURITE_CONNECTION_STRING
    return connection_string


class StorageAccounts:
    """Hands out queue clients, sharing one service client per connection string."""

    def __init__(self) -> None:
        self._services: dict[str, tuple[QueueServiceClient, aiohttp.ClientSession]] = {}

    def queue(self, connection_string: str, queue_name: str) -> QueueClient:
        return self._service(expand_development_storage(connection_string)).get_queue_client(
            queue_name, message_encode_policy=None, message_decode_policy=None
        )

    def _service(self, connection_string: str) -> QueueServiceClient:
        if connection_string not in self._services:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS))
            service = QueueServiceClient.from_connection_string(
                connection_string,
                transport=AioHttpTransport(session=session, session_owner=False),
                initial_backoff=0,
                increment_base=1,
                random_jitter_range=1,
                retry_total=2,
                connection_timeout=10,
                read_timeout=60,
            )
            self._services[connection_string] = (service, session)
        return self._services[connection_string][0]

    async def close(self) -> None:
        for service, session in self._services.values():
            await service.close()
            await session.close()
        self._services.clear()
