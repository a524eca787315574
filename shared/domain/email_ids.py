"""Email ids that carry their storage keys.

An id is `<yyyymmdd>-<shard>-<rowkey>`: the day bucket and shard make the history
PartitionKey (a day's history spread over SHARDS partitions, purged a whole day at a time),
and the row key sorts newest first inside its partition (inverted milliseconds of the day).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from shared.errors import NotFound

SHARDS = 8
_MS_PER_DAY = 86_400_000
_ID = re.compile(r"^(?P<day>\d{8})-(?P<shard>[0-9])-(?P<row>\d{8}[0-9a-f]{10})$")


def new_email_id(now: datetime) -> str:
    now = now.astimezone(UTC)
    ms_of_day = ((now.hour * 60 + now.minute) * 60 + now.second) * 1000 + now.microsecond // 1000
    inverted = _MS_PER_DAY - 1 - ms_of_day
    return f"{now:%Y%m%d}-{secrets.randbelow(SHARDS)}-{inverted:08d}{secrets.token_hex(5)}"


def storage_keys(email_id: str) -> tuple[str, str]:
    """(PartitionKey, RowKey) of an id; an id that cannot be ours is simply not found."""
    match = _ID.match(email_id)
    if not match or int(match.group("shard")) >= SHARDS:
        raise NotFound(f"There is no email with id {email_id!r}", code="EmailNotFound")
    return f"{match.group('day')}-{match.group('shard')}", match.group("row")


def email_id_from_keys(partition_key: str, row_key: str) -> str:
    return f"{partition_key}-{row_key}"
