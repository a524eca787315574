"""Azure Queue Storage: where accepted emails wait for the dispatcher.

Messages are encoded as host.json's `messageEncoding` says, so that the Functions host (or
our local host) decodes exactly what was sent.
"""

from __future__ import annotations

import json
import math

from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from shared.adapters.azure_errors import storage_errors
from shared.adapters.storage_transport import StorageTransport
from shared.ports import AlreadyExists

MAX_DELAY_SECONDS = 7 * 24 * 3600


class StorageEmailQueue:
    def __init__(self, connection_string: str, *, encoding: str) -> None:
        self._service = QueueServiceClient.from_connection_string(connection_string, transport=StorageTransport())
        self._base64 = encoding == "base64"
        self._clients: dict[str, QueueClient] = {}

    async def _client(self, name: str) -> QueueClient:
        client = self._clients.get(name)
        if client is None:
            client = self._service.get_queue_client(
                name,
                message_encode_policy=TextBase64EncodePolicy() if self._base64 else None,
                message_decode_policy=TextBase64DecodePolicy() if self._base64 else None,
            )
            try:
                with storage_errors(f"creating queue {name}"):
                    await client.create_queue()
            except AlreadyExists:
                pass
            self._clients[name] = client
        return client

    async def enqueue(self, queue: str, body: dict[str, object], *, delay_seconds: float = 0) -> None:
        client = await self._client(queue)
        delay = min(MAX_DELAY_SECONDS, max(0, math.ceil(delay_seconds)))
        with storage_errors(f"queueing on {queue}"):
            await client.send_message(json.dumps(body), visibility_timeout=delay or None)

    async def depth(self, queue: str) -> int:
        client = await self._client(queue)
        with storage_errors(f"reading queue {queue}"):
            properties = await client.get_queue_properties()
        return int(properties.approximate_message_count or 0)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        await self._service.close()
