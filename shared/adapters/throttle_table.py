"""Table Storage: the throttle's shared state, correct with many instances at once.

    table throttle         PK = throttle key   RK = w<window>  count of emails sent in that window
                                                RK = d<yyyymmdd> recipients sent that day (Exchange)
                                                RK = plan        the rebalancer's plan for the key
    table throttlebacklog  PK = throttle key   RK = arrival key (one entity per deferred email)

A slot is taken by an ETag-conditioned update of the window's counter: of two instances that
read the same count, only one write succeeds; the other reads again and sees the slot gone.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.adapters.azure_errors import storage_errors
from shared.adapters.table_storage import Tables
from shared.domain.throttle import Plan
from shared.ports import AlreadyExists, StaleWrite

COUNTERS = "throttle"
BACKLOG = "throttlebacklog"
_SLOT_ATTEMPTS = 50


async def _back_off(attempt: int) -> None:
    """Racers that lost spread out, so that the next round is not the same crowd at once."""
    await asyncio.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))


def _partition(key: str) -> str:
    return quote(key, safe="@:.+-_")  # table keys may not hold / \\ # ?


class TableThrottleStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def take_slot(self, key: str, window: int, limit: int, *, force: bool = False) -> bool:
        """True if this window had a slot left (or `force`), which is now taken."""
        return await self.take_slots(key, window, limit, 1, force=force) == 1

    async def take_slots(self, key: str, window: int, limit: int, want: int, *, force: bool = False) -> int:
        """Takes up to `want` of the window's slots that are left (all `want` if `force`)."""
        granted, _ = await self._add(
            key, f"w{window:012d}", "count", lambda count: want if force else min(want, max(limit - count, 0))
        )
        return granted

    async def used(self, key: str, window: int) -> int:
        table = await self._tables.table(COUNTERS)
        try:
            with storage_errors(f"reading throttle {key}"):
                entity = await table.get_entity(partition_key=_partition(key), row_key=f"w{window:012d}")
        except ResourceNotFoundError:
            return 0
        return int(entity["count"])

    async def add_recipients(self, key: str, day: str, count: int) -> int:
        """Adds to the day's recipient count and returns the new total."""
        _, total = await self._add(key, f"d{day}", "recipients", lambda _: count)
        return total

    async def _add(self, key: str, row: str, field: str, amount: Callable[[int], int]) -> tuple[int, int]:
        """Adds `amount(current)` to a counter with an ETag-checked write, reading again when
        another instance wrote first; returns what was added and the new total."""
        table = await self._tables.table(COUNTERS)
        partition = _partition(key)
        for attempt in range(_SLOT_ATTEMPTS):
            try:
                with storage_errors(f"reading throttle counter {key} {row}"):
                    entity = await table.get_entity(partition_key=partition, row_key=row)
            except ResourceNotFoundError:
                added = amount(0)
                if added == 0:
                    return 0, 0
                try:
                    with storage_errors(f"counting for throttle {key}"):
                        await table.create_entity({"PartitionKey": partition, "RowKey": row, field: added})
                    return added, added
                except AlreadyExists:
                    continue
            current = int(entity[field])
            added = amount(current)
            if added == 0:
                return 0, current
            entity[field] = current + added
            try:
                with storage_errors(f"counting for throttle {key}"):
                    await table.update_entity(
                        entity,
                        mode=UpdateMode.MERGE,
                        etag=entity.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                return added, current + added
            except StaleWrite:
                await _back_off(attempt)  # another instance wrote first: look again
        raise StaleWrite(f"throttle counter {key} {row} is too contended")

    async def plan(self, key: str) -> Plan | None:
        table = await self._tables.table(COUNTERS)
        try:
            with storage_errors(f"reading the throttle plan of {key}"):
                entity = await table.get_entity(partition_key=_partition(key), row_key="plan")
        except ResourceNotFoundError:
            return None
        return Plan(base_window=int(entity["baseWindow"]), boundaries=tuple(json.loads(entity["boundaries"])))

    async def save_plan(self, key: str, plan: Plan | None) -> None:
        table = await self._tables.table(COUNTERS)
        with suppress(ResourceNotFoundError), storage_errors(f"saving the throttle plan of {key}"):
            if plan is None:
                await table.delete_entity(partition_key=_partition(key), row_key="plan")
            else:
                entity = {
                    "PartitionKey": _partition(key),
                    "RowKey": "plan",
                    "baseWindow": plan.base_window,
                    "boundaries": json.dumps(plan.boundaries),
                }
                await table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def join_backlog(self, key: str, arrival: str, email_id: str, at: datetime) -> None:
        table = await self._tables.table(BACKLOG)
        entity = {"PartitionKey": _partition(key), "RowKey": arrival, "emailId": email_id, "deferredAt": at}
        with storage_errors(f"adding {email_id} to the throttle backlog"):
            await table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def leave_backlog(self, key: str, arrival: str) -> None:
        table = await self._tables.table(BACKLOG)
        with suppress(ResourceNotFoundError), storage_errors("removing an email from the throttle backlog"):
            await table.delete_entity(partition_key=_partition(key), row_key=arrival)

    async def backlog(self, key: str, first: int, *, live_since: datetime) -> list[str]:
        """The arrival keys of the oldest `first` deferred emails, in arrival order.

        An entry not deferred again since `live_since` belongs to an email that left the line
        without saying so (its dispatcher stopped): it is dropped.
        """
        table = await self._tables.table(BACKLOG)
        keys: list[str] = []
        with storage_errors(f"reading the throttle backlog of {key}"):
            entities = table.query_entities(
                "PartitionKey eq @pk",
                parameters={"pk": _partition(key)},
                select=["RowKey", "deferredAt"],
                results_per_page=1000,
            )
            async for entity in entities:
                if entity["deferredAt"] < live_since:
                    await self.leave_backlog(key, entity["RowKey"])
                    continue
                keys.append(entity["RowKey"])
                if len(keys) >= first:
                    break
        return keys

    async def keys(self) -> set[str]:
        """Every throttle key with a backlog, a plan or counters."""
        found: set[str] = set()
        for name in (BACKLOG, COUNTERS):
            table = await self._tables.table(name)
            with storage_errors("listing throttle keys"):
                async for entity in table.list_entities(select=["PartitionKey"]):
                    found.add(unquote(entity["PartitionKey"]))
        return found

    async def remove_counters_before(self, key: str, window: int, day: str) -> int:
        table = await self._tables.table(COUNTERS)
        removed = 0
        query = "PartitionKey eq @pk and ((RowKey ge 'w' and RowKey lt @w ) or (RowKey ge 'd' and RowKey lt @d ))"
        with storage_errors(f"removing old throttle counters of {key}"):
            async for entity in table.query_entities(
                query, parameters={"pk": _partition(key), "w": f"w{window:012d}", "d": f"d{day}"}, select=["RowKey"]
            ):
                await table.delete_entity(partition_key=_partition(key), row_key=entity["RowKey"])
                removed += 1
        return removed
