"""Table Storage queries over the email history: one partition page per call, and batched deletes.

Stateless on purpose: a caller resumes a partition from a RowKey (the next one the service
would have read), so a listing's position can travel in a continuation token and a purge can
stop anywhere and start again. Each call is one round trip, which is what callers budget.
"""

from __future__ import annotations

import logging
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError
from azure.data.tables.aio import TableClient

from shared.adapters.azure_errors import storage_errors
from shared.adapters.table_storage import HISTORY_TABLE, Tables, record_from_entity
from shared.domain.history import EmailRecord, Status
from shared.domain.history_query import WHOLE_PARTITION, HistoryFilter, Row, RowRange
from shared.ports import StaleWrite

log = logging.getLogger(__name__)

MAX_PAGE = 1000  # what the Table service returns per request at most
TRANSACTION_LIMIT = 100  # operations per entity group transaction
ROW_PROPERTIES = ["PartitionKey", "RowKey", "status", "createdAt", "resentAt", "user", "idempotencyKey"]


class TableHistoryQueries:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def records(
        self, partition: str, rows: RowRange, query: HistoryFilter, *, size: int
    ) -> tuple[list[tuple[EmailRecord, str]], str | None]:
        """One page of whole records (with ETags) in RowKey order, and the RowKey to go on from."""
        entities, resume = await self._page(partition, rows, query.statuses, query.equals, size=size, select=None)
        return [(record_from_entity(e), str(e.metadata["etag"])) for e in entities], resume

    async def rows(
        self,
        partition: str,
        rows: RowRange = WHOLE_PARTITION,
        *,
        statuses: tuple[Status, ...] = (),
        size: int = MAX_PAGE,
    ) -> tuple[list[Row], str | None]:
        entities, resume = await self._page(partition, rows, statuses, (), size=size, select=ROW_PROPERTIES)
        return [_row(e) for e in entities], resume

    async def oldest_partition(self) -> str | None:
        """The first partition in key order, which is the oldest day's (one short request)."""
        table = await self._tables.table(HISTORY_TABLE)
        with storage_errors("finding the oldest history"):
            pager = table.list_entities(results_per_page=1, select=["PartitionKey"]).by_page()
            async for page in pager:
                async for entity in page:
                    return str(entity["PartitionKey"])
        return None

    async def delete(self, rows: list[Row]) -> int:
        """Deletes rows of one partition unless changed since they were read (their ETag), in
        transactions of up to 100; a row that is gone or changed is left to the next run."""
        table = await self._tables.table(HISTORY_TABLE)
        deleted = 0
        for start in range(0, len(rows), TRANSACTION_LIMIT):
            chunk = rows[start : start + TRANSACTION_LIMIT]
            operations = [
                ("delete", {"PartitionKey": r.partition, "RowKey": r.row}, _if_unchanged(r.etag)) for r in chunk
            ]
            try:
                with storage_errors(f"deleting history of {chunk[0].partition}"):
                    await table.submit_transaction(operations)
                deleted += len(chunk)
            except TableTransactionError as error:
                log.info("a purge transaction of %s was refused (%s): deleting one by one", chunk[0].partition, error)
                deleted += await _delete_one_by_one(table, chunk)
        return deleted

    async def _page(
        self,
        partition: str,
        rows: RowRange,
        statuses: tuple[Status, ...],
        equals: tuple[tuple[str, str], ...],
        *,
        size: int,
        select: list[str] | None,
    ) -> tuple[list[Any], str | None]:
        conditions, parameters = ["PartitionKey eq @pk"], {"pk": partition}
        if rows.lowest:
            conditions.append(f"RowKey {'gt' if rows.after else 'ge'} @lowest")
            parameters["lowest"] = rows.lowest
        if rows.stop is not None:
            conditions.append("RowKey lt @stop")
            parameters["stop"] = rows.stop
        if statuses:
            # the SDK substitutes @names between spaces only, so the parentheses stand apart
            conditions.append("( " + " or ".join(f"status eq @s{i}" for i in range(len(statuses))) + " )")
            parameters.update({f"s{i}": str(status) for i, status in enumerate(statuses)})
        for name, value in equals:
            conditions.append(f"{name} eq @{name}")  # names come from EQUALITY_FIELDS, never from a caller
            parameters[name] = value
        table = await self._tables.table(HISTORY_TABLE)
        with storage_errors(f"reading history of {partition}"):
            pager = table.query_entities(
                " and ".join(conditions), parameters=parameters, results_per_page=min(size, MAX_PAGE), select=select
            ).by_page()
            page = await anext(pager)
            entities = [entity async for entity in page]
            token = getattr(pager, "continuation_token", None)  # the service's next (PartitionKey, RowKey)
        resume = token.get("RowKey") if isinstance(token, dict) else None
        return entities, (str(resume) if resume else None)


def _row(entity: Any) -> Row:
    return Row(
        partition=entity["PartitionKey"],
        row=entity["RowKey"],
        etag=str(entity.metadata["etag"]),
        status=Status(entity["status"]),
        created_at=entity["createdAt"],
        resent_at=entity.get("resentAt"),
        user=entity.get("user", ""),
        idempotency_key=entity.get("idempotencyKey"),
    )


def _if_unchanged(etag: str) -> dict[str, Any]:
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified}


async def _delete_one_by_one(table: TableClient, rows: list[Row]) -> int:
    deleted = 0
    for row in rows:
        try:
            with storage_errors(f"deleting email {row.email_id}"):
                await table.delete_entity(partition_key=row.partition, row_key=row.row, **_if_unchanged(row.etag))
            deleted += 1
        except (ResourceNotFoundError, ResourceModifiedError, StaleWrite):
            continue  # gone already, or changed (e.g. resent) since it was read
    return deleted
