"""Table Storage: forgetting the idempotency keys of purged emails, so the `idempotency` table
shrinks with the history it belongs to.

A key is deleted only while it still names the purged email, and only unchanged since it was
read (its ETag): a key that a new email has claimed since is left alone.
"""

from __future__ import annotations

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from shared.adapters.azure_errors import storage_errors
from shared.adapters.idempotency_table import IDEMPOTENCY_TABLE
from shared.adapters.table_storage import Tables
from shared.ports import StaleWrite


class TableIdempotencyCleanup:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def forget(self, user: str, key: str, email_id: str) -> bool:
        """True if the key of `email_id` was deleted now; False if it was gone or belongs to another email."""
        table = await self._tables.table(IDEMPOTENCY_TABLE)
        try:
            with storage_errors(f"reading idempotency key {key}"):
                entity = await table.get_entity(partition_key=user, row_key=key)
            if entity.get("emailId") != email_id:
                return False
            with storage_errors(f"forgetting idempotency key {key}"):
                await table.delete_entity(
                    partition_key=user,
                    row_key=key,
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceNotFoundError, ResourceModifiedError, StaleWrite):
            return False
        return True
