"""What the throttle costs: per admission, and in emails a minute through the dispatcher.

    .venv/bin/python -m benchmarks.throttle_benchmark [--emails 600] [--concurrency 16] [--rounds 3]

Starts its own in-memory Azurite. (a) times taking a slot (one read and one ETag-checked write
of the window's counter), alone and with three instances racing; (b) pushes the same batch
email through the real dispatcher (real storage, SMTP replaced by an instant provider) with
throttling off and on (a limit high enough that nothing is deferred), `--concurrency` at a
time like a Functions instance with batchSize 16, and prints emails a minute for each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from shared.adapters.table_storage import Tables
from shared.adapters.throttle_table import TableThrottleStore
from tests.support.azurite import start_azurite
from tests.support.builders import service_stack


async def slot_costs(connection: str, takes: int) -> tuple[float, float]:
    clients = [Tables(connection) for _ in range(3)]
    stores = [TableThrottleStore(tables) for tables in clients]
    try:
        timings = []
        for number in range(takes):
            started = time.perf_counter()
            await stores[0].take_slot("bench-alone", number // 50, 10_000)
            timings.append(time.perf_counter() - started)
        racers, rounds = 48, max(1, takes // 48)  # three instances taking 16 messages each
        started = time.perf_counter()
        for window in range(rounds):
            await asyncio.gather(*(stores[n % 3].take_slot("bench-race", window, 10_000) for n in range(racers)))
        raced = (time.perf_counter() - started) / (racers * rounds)
        return statistics.median(timings) * 1000, raced * 1000
    finally:
        for tables in clients:
            await tables.aclose()


async def throughput(connection: str, emails: int, concurrency: int, throttled: bool) -> float:
    with tempfile.TemporaryDirectory() as folder:
        async with service_stack(connection, Path(folder) / "s.json") as stack:
            await stack.configuration.patch_parameters(
                {
                    "smtp": {"server": "127.0.0.1"},
                    "throttling": {"enabled": throttled, "perMinuteLimits": {"smtp": 100_000}},
                }
            )
            await stack.configuration.put_user("bench", {"email": "bench@contoso.com"})
            body = {"user": "bench", "mode": "batch", "to": ["a@contoso.com"], "subject": "benchmark"}
            ids = [(await stack.sending.accept(body)).id for _ in range(emails)]
            gate = asyncio.Semaphore(concurrency)

            async def one(email_id: str) -> None:
                async with gate:
                    await stack.dispatching.dispatch(json.dumps({"id": email_id}).encode(), message_id=email_id)

            started = time.perf_counter()
            await asyncio.gather(*(one(email_id) for email_id in ids))
            elapsed = time.perf_counter() - started
            assert len(stack.transport.sent) == emails
            return emails / elapsed * 60


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    azurite = start_azurite()
    try:
        alone, raced = await slot_costs(azurite.connection_string, 300)
        print(f"taking a slot, one instance: {alone:.2f} ms (median)")
        print(f"taking a slot, 48 racing on one counter (3 instances x 16): {raced:.2f} ms per slot")
        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(options.rounds):  # alternated, so that Azurite's warm-up and drift fall on both
            for throttled in (False, True):
                rate = await throughput(azurite.connection_string, options.emails, options.concurrency, throttled)
                runs[throttled].append(rate)
        off, on = statistics.median(runs[False]), statistics.median(runs[True])
        print(f"dispatch, throttling off: {off:,.0f} emails/min (median of {options.rounds})")
        print(f"dispatch, throttling on:  {on:,.0f} emails/min (median of {options.rounds})")
    finally:
        azurite.stop()


if __name__ == "__main__":
    asyncio.run(main())
