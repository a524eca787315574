"""Table Storage: which email an application's idempotency key already produced.

The key is claimed with an insert before anything else is written, so two requests with the
same key race on one entity and exactly one of them wins.
"""

from __future__ import annotations

from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError

from shared.adapters.azure_errors import storage_errors
from shared.adapters.table_storage import Tables
from shared.ports import AlreadyExists

IDEMPOTENCY_TABLE = "idempotency"


class TableIdempotencyStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def claim(self, user: str, key: str, email_id: str, fingerprint: str) -> tuple[str, str] | None:
        table = await self._tables.table(IDEMPOTENCY_TABLE)
        entity = {
            "PartitionKey": user,
            "RowKey": key,
            "emailId": email_id,
            "fingerprint": fingerprint,
            "createdAt": datetime.now(UTC),
        }
        try:
            with storage_errors(f"claiming idempotency key {key}"):
                await table.create_entity(entity)
            return None
        except AlreadyExists:
            pass
        with storage_errors(f"reading idempotency key {key}"):
            existing = await table.get_entity(partition_key=user, row_key=key)
        return str(existing["emailId"]), str(existing.get("fingerprint", ""))

    async def release(self, user: str, key: str) -> None:
        table = await self._tables.table(IDEMPOTENCY_TABLE)
        try:
            with storage_errors(f"releasing idempotency key {key}"):
                await table.delete_entity(partition_key=user, row_key=key)
        except ResourceNotFoundError:
            pass
