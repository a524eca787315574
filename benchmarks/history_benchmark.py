"""What the Email history costs at 100,000 emails, against what Azurite itself does the same way.

    .venv/bin/python -m benchmarks.history_benchmark [--records 100000] [--days 20] [--azurite PATH]

Starts its own in-memory Azurite (the project's, or the binary at PATH), writes `--records`
history records with the app's own entity mapping (spread over `--days` days, 8 partitions a
day, all older than the 30-day retention; statuses, users and references mixed; 5 % with an
idempotency key), then times each against raw SDK calls doing the same on the same entities:
  (a) a point read by id               vs  TableClient.get_entity
  (b) a filtered page (user, top 50)   vs  the same partition queries, merged by hand
  (c) the purge of every record        vs  raw deletes of the same entities written again: read
                                            each partition's keys, delete the content blobs and
                                            idempotency keys as the purge must, then transactions
                                            of 100; 8 partitions at a time, as the purge. And vs
                                            the entity transactions alone.
No content blobs are written (only records, as the issue asks): in-memory Azurite deletes an
existing blob at about 95 a second, which would measure Azurite's blob store, not the purge. The
purge still deletes each email's content, so each delete is a 404 — the same round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient
from azure.storage.blob.aio import ContainerClient

from shared.adapters.blob_storage import CONTAINER
from shared.adapters.history_queries import TableHistoryQueries
from shared.adapters.table_storage import (
    HISTORY_TABLE,
    Tables,
    _to_entity,  # the app's own entity mapping, for bulk writes
)
from shared.domain.email_ids import SHARDS, new_email_id, storage_keys
from shared.domain.history import EmailRecord, Status
from shared.domain.history_query import HistoryFilter
from tests.support.azurite import ROOT, start_azurite
from tests.support.builders import service_stack

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
STATUSES = [Status.SENT] * 90 + [Status.FAILED] * 6 + [Status.EXPIRED] * 2 + [Status.UNCONFIRMED, Status.GENERATED]


def make_records(count: int, days: int, rng: random.Random) -> list[EmailRecord]:
    records = []
    for n in range(count):
        created = NOW - timedelta(days=31 + n % days, seconds=rng.randrange(86_400))
        user = f"user{rng.randrange(50):02d}"
        records.append(
            EmailRecord(
                id=new_email_id(created),
                status=rng.choice(STATUSES),
                mode=rng.choice(("interactive", "batch")),
                provider="smtp",
                user=user,
                sender=f"{user}@contoso.com",
                sender_rule="UserEmail",
                from_=f"{user}@contoso.com",
                to=("customer@example.com",),
                subject=f"Invoice {n}",
                size_bytes=2_000,
                created_at=created,
                reference=f"CustTable/US-{n % 997:03d}",
                attempts=1,
                idempotency_key=f"key-{n}" if n % 20 == 0 else None,
            )
        )
    return records


async def write(tables: Tables, records: list[EmailRecord]) -> float:
    """Records as the app stores them (its own entity mapping), in transactions of 100 per partition;
    and the idempotency keys of those that have one."""
    history, keys = await tables.table(HISTORY_TABLE), await tables.table("idempotency")
    groups: dict[str, list[tuple[str, dict[str, object]]]] = defaultdict(list)
    for record in records:
        entity = _to_entity(record)
        groups[f"h{entity['PartitionKey']}"].append(("upsert", entity))
        if record.idempotency_key:
            key = {"PartitionKey": record.user, "RowKey": record.idempotency_key, "emailId": record.id}
            groups[f"k{record.user}"].append(("upsert", key))
    gate = asyncio.Semaphore(8)

    async def one(group: str, operations: list[tuple[str, dict[str, object]]]) -> None:
        async with gate:
            table = history if group.startswith("h") else keys
            for start in range(0, len(operations), 100):
                await table.submit_transaction(operations[start : start + 100])

    started = time.perf_counter()
    await asyncio.gather(*(one(group, operations) for group, operations in groups.items()))
    return time.perf_counter() - started


async def timed(action: Callable[[], Awaitable[object]], times: int) -> float:
    """Median milliseconds of `times` runs."""
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def raw_page(table: TableClient, day: datetime, user: str, top: int) -> list[str]:
    """The same page by hand: each partition of a day newest first, filtered, merged; then the day before."""
    found: list[tuple[str, int, str]] = []
    while len(found) < top:
        pages = await asyncio.gather(*(_first_page(table, f"{day:%Y%m%d}-{s}", user, top) for s in range(SHARDS)))
        found += sorted(item for page in pages for item in page)
        day -= timedelta(days=1)
    return [f"{pk}-{row}" for row, _, pk in found[:top]]


async def _first_page(table: TableClient, partition: str, user: str, top: int) -> list[tuple[str, int, str]]:
    pager = table.query_entities(
        "PartitionKey eq @pk and user eq @user", parameters={"pk": partition, "user": user}, results_per_page=top
    ).by_page()
    page = await anext(pager)
    return [(e["RowKey"], int(partition[-1]), partition) async for e in page]


async def raw_purge(
    table: TableClient, partitions: list[str], content: ContainerClient | None, keys: TableClient | None
) -> float:
    """Seconds to delete the same entities by hand: each partition's keys read, then (optionally) each
    email's content blob and idempotency key deleted as the purge must, then transactions of 100; 8
    partitions at a time, as the purge."""
    gate, blob_gate, batches = asyncio.Semaphore(8), asyncio.Semaphore(32), [True]

    async def blob(name: str) -> None:
        async with blob_gate:
            with contextlib.suppress(ResourceNotFoundError):
                await content.delete_blob(name)  # type: ignore[union-attr]

    async def blobs(names: list[str]) -> None:
        """Batches of 256 where this Azurite takes them (3.37 on), else one request a blob."""
        for start in range(0, len(names), 256):
            chunk = names[start : start + 256]
            if batches[0]:
                answers = await content.delete_blobs(*chunk, raise_on_any_failure=False)  # type: ignore[union-attr]
                if len([answer async for answer in answers]) == len(chunk):
                    continue
                batches[0] = False
            await asyncio.gather(*(blob(name) for name in chunk))

    async def one(partition: str) -> None:
        async with gate:
            wanted = ["PartitionKey", "RowKey", "user", "idempotencyKey"]
            query = table.query_entities("PartitionKey eq @pk", parameters={"pk": partition}, select=wanted)
            found = [entity async for entity in query]
            if content is not None and keys is not None:
                await asyncio.gather(
                    blobs([f"{e['PartitionKey']}-{e['RowKey']}.eml" for e in found]),
                    *(
                        keys.delete_entity(partition_key=e["user"], row_key=e["idempotencyKey"])
                        for e in found
                        if e.get("idempotencyKey")
                    ),
                )
            for start in range(0, len(found), 100):
                chunk = found[start : start + 100]
                await table.submit_transaction(
                    [("delete", {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"]}) for e in chunk]
                )

    started = time.perf_counter()
    await asyncio.gather(*(one(p) for p in partitions))
    return time.perf_counter() - started


def azurite_version(binary: Path | None) -> str:
    found = subprocess.run(
        [str(binary or ROOT / "node_modules" / ".bin" / "azurite"), "--version"], capture_output=True, text=True
    )
    return found.stdout.strip() or "?"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--azurite", type=Path, default=None, help="an Azurite binary other than the project's")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    records = make_records(options.records, options.days, rng)
    partitions = sorted({storage_keys(r.id)[0] for r in records})
    azurite = start_azurite(options.azurite)
    try:
        connection = azurite.connection_string
        with tempfile.TemporaryDirectory() as folder:
            async with (
                service_stack(connection, Path(folder) / "s.json") as stack,
                TableClient.from_connection_string(connection, HISTORY_TABLE) as table,
                TableClient.from_connection_string(connection, "idempotency") as keys,
                ContainerClient.from_connection_string(connection, CONTAINER) as content,
            ):
                stack.clock.now = NOW
                wrote = await write(stack.tables, records)
                print(
                    f"Azurite {azurite_version(options.azurite)}, Python {platform.python_version()}, "
                    f"{os.cpu_count()} CPUs"
                )
                print(
                    f"wrote {len(records):,} records in {len(partitions)} partitions over {options.days} days: "
                    f"{wrote:.1f} s ({len(records) / wrote:,.0f}/s)"
                )
                sample = rng.sample(records, 200)
                ids = iter([r.id for r in sample] * 2)
                ours = await timed(lambda: stack.history.get(next(ids)), 200)
                pairs = iter([storage_keys(r.id) for r in sample] * 2)
                raw = await timed(lambda: table.get_entity(*next(pairs)), 200)
                print(
                    f"(a) point read        mailroom {ours:7.2f} ms   raw get_entity   {raw:7.2f} ms   "
                    f"factor {ours / raw:.2f}"
                )

                newest = max(r.created_at for r in records)
                query = HistoryFilter(equals=(("user", "user07"),), until=newest)
                ours_page = await stack.email_history.page(query, top=50)
                raw_ids = await raw_page(table, newest, "user07", 50)
                assert [r.id for r, _ in ours_page.items] == raw_ids, "the two pages differ"
                ours = await timed(lambda: stack.email_history.page(query, top=50), 20)
                raw = await timed(lambda: raw_page(table, newest, "user07", 50), 20)
                print(
                    f"(b) filtered page     mailroom {ours:7.2f} ms   raw queries      {raw:7.2f} ms   "
                    f"factor {ours / raw:.2f}   (user, top 50, newest first)"
                )

                started = time.perf_counter()
                report = await stack.retention.purge()
                ours = time.perf_counter() - started
                assert report.deleted == len(records), report
                assert await TableHistoryQueries(stack.tables).oldest_partition() is None
                await write(stack.tables, records)
                same_work = await raw_purge(table, partitions, content, keys)
                await write(stack.tables, records)
                entities_only = await raw_purge(table, partitions, None, None)
                rate = len(records) / ours
                print(
                    f"(c) purge of all      mailroom {ours:7.1f} s    raw, same work   {same_work:7.1f} s    "
                    f"factor {ours / same_work:.2f}   ({rate:,.0f} records/s)"
                )
                print(
                    f"                                           raw, entities only {entities_only:5.1f} s    "
                    f"factor {ours / entities_only:.2f}   (no content or key deletes)"
                )
    finally:
        azurite.stop()


if __name__ == "__main__":
    asyncio.run(main())
