"""Blob Storage for the history's bulk work: does an email's content still exist, and delete the
content of many emails at once (blob batches of up to 256), as the retention purge needs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from shared.adapters.azure_errors import storage_errors
from shared.adapters.blob_storage import CONTAINER
from shared.adapters.storage_transport import StorageTransport
from shared.errors import DependencyUnavailable

log = logging.getLogger(__name__)

BLOB_BATCH_LIMIT = 256
_CONCURRENCY = 32
_GONE = {200, 202, 404}  # deleted now, or already gone (the container too)


class BlobContentBatches:
    def __init__(self, connection_string: str) -> None:
        self._service = BlobServiceClient.from_connection_string(connection_string, transport=StorageTransport())
        self._container = self._service.get_container_client(CONTAINER)
        self._batches = True  # until the service refuses one

    async def exists(self, email_id: str) -> bool:
        with storage_errors(f"looking for the content of {email_id}"):
            return bool(await self._container.get_blob_client(f"{email_id}.eml").exists())

    async def delete_many(self, email_ids: Sequence[str]) -> None:
        """Every blob is gone afterwards, or this raises (so the purge keeps the records and retries)."""
        names = [f"{email_id}.eml" for email_id in email_ids]
        for start in range(0, len(names), BLOB_BATCH_LIMIT):
            chunk = names[start : start + BLOB_BATCH_LIMIT]
            if not (self._batches and await self._delete_batch(chunk)):
                await self._delete_one_by_one(chunk)

    async def _delete_batch(self, names: list[str]) -> bool:
        """False when the service refuses blob batches as such: Azurite does not read the Python SDK's
        batch format (Azure/Azurite#1809), so there every blob is deleted on its own instead."""
        with storage_errors("deleting email content"):
            responses = await self._container.delete_blobs(*names, raise_on_any_failure=False)
            statuses = [response.status_code async for response in responses]
        if len(statuses) != len(names) or 400 in statuses:
            log.info("this storage account refuses blob batches: deleting content one blob at a time")
            self._batches = False
            return False
        failed = [name for name, status in zip(names, statuses, strict=True) if status not in _GONE]
        if failed:
            raise DependencyUnavailable(
                f"Storage did not delete the content of {len(failed)} emails: try again shortly",
                code="StorageUnavailable",
            )
        return True

    async def _delete_one_by_one(self, names: list[str]) -> None:
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def one(name: str) -> None:
            async with gate:
                try:
                    with storage_errors(f"deleting {name}"):
                        await self._container.delete_blob(name)
                except ResourceNotFoundError:
                    pass

        await asyncio.gather(*(one(name) for name in names))

    async def aclose(self) -> None:
        await self._container.close()
        await self._service.close()
