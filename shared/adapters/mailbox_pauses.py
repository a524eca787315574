"""Exchange mailboxes that Graph throttled, in Table Storage, so every instance holds off alike.

One small entity per mailbox (its own partition, so no mailbox's traffic touches another's):
`until` is when Graph said to come back. A dispatcher reads it before sending through Exchange
and writes it after a 429. Two instances throttled at once may race; the later `until` wins
where the write sees the other's, and a lost race only shortens a pause that the next 429 renews.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.adapters.azure_errors import storage_errors
from shared.adapters.table_storage import Tables

PAUSES_TABLE = "exchangepauses"
_ROW = "pause"
_KEY_REFUSES = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")


def _key(mailbox: str) -> str:
    """The mailbox in lower case; hashed in the rare case it holds a character table keys refuse."""
    key = mailbox.strip().lower()
    if _KEY_REFUSES.search(key):
        return "sha256-" + hashlib.sha256(key.encode()).hexdigest()
    return key


class TableMailboxPauses:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def paused_until(self, mailbox: str) -> datetime | None:
        table = await self._tables.table(PAUSES_TABLE)
        try:
            with storage_errors(f"reading the Exchange pause of {mailbox}"):
                entity = await table.get_entity(partition_key=_key(mailbox), row_key=_ROW)
        except ResourceNotFoundError:
            return None
        until = entity.get("until")
        return until if isinstance(until, datetime) else None

    async def pause(self, mailbox: str, until: datetime) -> None:
        """Holds the mailbox until `until`, or longer if another instance already said so."""
        current = await self.paused_until(mailbox)
        if current is not None and current >= until:
            return
        table = await self._tables.table(PAUSES_TABLE)
        entity = {"PartitionKey": _key(mailbox), "RowKey": _ROW, "mailbox": mailbox, "until": until}
        with storage_errors(f"saving the Exchange pause of {mailbox}"):
            await table.upsert_entity(entity, mode=UpdateMode.REPLACE)
