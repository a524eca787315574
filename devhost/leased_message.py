"""A received queue message while its function runs: the lease on it, and how it is settled.

Every visibility update issues a new pop receipt, and only the latest one can delete or
update the message, so renewals and settlements share one place that tracks it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any

import aiohttp
from azure.core.exceptions import AzureError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

log = logging.getLogger("devhost.queues")

STORAGE_ERRORS = (AzureError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


class LeasedMessage:
    def __init__(
        self,
        message: QueueMessage,
        *,
        queue: QueueClient,
        poison_queue: QueueClient,
        lease_seconds: int,
    ) -> None:
        self.message = message
        self._receipt = message.pop_receipt
        self._queue = queue
        self._poison_queue = poison_queue
        self._lease_seconds = lease_seconds

    async def keep_leased(self, finished: asyncio.Event) -> None:
        """Renews the lease at half-time until `finished` is set, so a long run keeps it."""
        while True:
            with suppress(TimeoutError):
                async with asyncio.timeout(self._lease_seconds / 2):
                    await finished.wait()
            if finished.is_set():
                return
            try:
                renewed = await self._queue.update_message(
                    self.message.id,
                    pop_receipt=self._receipt,
                    visibility_timeout=self._lease_seconds,
                )
                self._receipt = renewed.pop_receipt
            except STORAGE_ERRORS as error:
                log.warning(
                    "Could not renew the lease of message %s on '%s': %s",
                    self.message.id,
                    self._queue.queue_name,
                    error,
                )

    async def delete(self) -> None:
        await self._settle("delete", self._delete())

    async def release(self, visibility_seconds: int) -> None:
        """Makes the message visible again after `visibility_seconds`, for another attempt."""
        await self._settle("release", self._update(visibility_seconds))

    async def poison(self) -> bool:
        """Copies the text unchanged to the poison queue, then deletes the original."""
        return await self._settle("poison", self._poison())

    async def _delete(self) -> None:
        await self._queue.delete_message(self.message.id, self._receipt)

    async def _update(self, visibility_seconds: int) -> None:
        await self._queue.update_message(
            self.message.id, pop_receipt=self._receipt, visibility_timeout=visibility_seconds
        )

    async def _poison(self) -> None:
        await self._poison_queue.send_message(self.message.content or "")
        await self._delete()

    async def _settle(self, action: str, call: Coroutine[Any, Any, None]) -> bool:
        try:
            await call
        except STORAGE_ERRORS as error:
            log.warning(
                "Could not %s message %s on '%s' (%s); it reappears when its lease ends",
                action,
                self.message.id,
                self._queue.queue_name,
                error,
            )
            return False
        return True
