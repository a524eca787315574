"""Empties an Azurite account between tests, so each test starts from nothing."""

from __future__ import annotations

from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient


async def empty_account(connection_string: str) -> None:
    async with TableServiceClient.from_connection_string(connection_string) as tables:
        async for table in tables.list_tables():
            await tables.delete_table(table.name)
    async with QueueServiceClient.from_connection_string(connection_string) as queues:
        async for queue in queues.list_queues():
            await queues.delete_queue(queue.name)
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        async for container in blobs.list_containers():
            await blobs.delete_container(container.name)
