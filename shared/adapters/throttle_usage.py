"""How many emails each provider sent in the current throttle window, read from the throttle's
own counters for the Batch email sending status.

The layout shared/adapters/throttle_table.py writes: table `throttle`, PartitionKey the
throttle key (`smtp`, or `exchange:<mailbox>` for each sending mailbox), RowKey `w<window:012d>`
where window = floor(unix seconds / window seconds), property `count`. No table or no entity
means nothing was sent this window: 0.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError

from shared.adapters.azure_errors import storage_errors
from shared.adapters.table_storage import Tables
from shared.domain.throttle import window_index

COUNTERS_TABLE = "throttle"


class TableThrottleUsage:
    def __init__(self, tables: Tables, *, window_seconds: float, clock: Callable[[], datetime]) -> None:
        self._tables = tables
        self._window_seconds = window_seconds or 60
        self._clock = clock

    async def used_this_minute(self, provider: str) -> int:
        """Emails sent through `provider` in the current window; Exchange summed over its mailboxes."""
        window = window_index(self._clock(), self._window_seconds)
        if provider == "exchange":
            query = "PartitionKey ge 'exchange:' and PartitionKey lt 'exchange;' and RowKey eq @row"
        else:
            query = "PartitionKey eq @provider and RowKey eq @row"
        table = await self._tables.table(COUNTERS_TABLE)
        total = 0
        try:
            with storage_errors("reading the throttle counters"):
                async for entity in table.query_entities(
                    query, parameters={"provider": provider, "row": f"w{window:012d}"}, select=["count"]
                ):
                    total += int(entity.get("count") or 0)
        except ResourceNotFoundError:
            return 0
        return total
