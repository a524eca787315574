"""Queue Storage as the Batch email sending status reads it: the ids at the front of a queue.

Peeking does not take the message from the dispatcher (it stays visible and its dequeue count
does not change). Messages are decoded as host.json's `messageEncoding` says.
"""

from __future__ import annotations

import json

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import TextBase64DecodePolicy
from azure.storage.queue.aio import QueueServiceClient

from shared.adapters.azure_errors import storage_errors
from shared.adapters.storage_transport import StorageTransport


class StorageQueueFront:
    def __init__(self, connection_string: str, *, encoding: str) -> None:
        self._service = QueueServiceClient.from_connection_string(connection_string, transport=StorageTransport())
        self._base64 = encoding == "base64"

    async def email_ids(self, queue: str, *, count: int = 5) -> list[str]:
        """The email ids of up to `count` visible messages at the front of `queue`, oldest first."""
        client = self._service.get_queue_client(
            queue, message_decode_policy=TextBase64DecodePolicy() if self._base64 else None
        )
        try:
            with storage_errors(f"peeking at queue {queue}"):
                messages = await client.peek_messages(max_messages=count)
        except ResourceNotFoundError:
            return []
        finally:
            await client.close()
        ids = []
        for message in messages:
            try:
                email_id = json.loads(message.content)["id"]
            except (ValueError, TypeError, KeyError):
                continue  # not ours: the dispatcher says so when it gets there
            if isinstance(email_id, str):
                ids.append(email_id)
        return ids

    async def aclose(self) -> None:
        await self._service.close()
