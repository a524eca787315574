"""Storage clients stay usable across Azurite's habit of closing idle connections."""

from __future__ import annotations

import asyncio
import time

from devhost.storage import StorageAccounts

AZURITE_KEEP_ALIVE_SECONDS = 5


async def test_a_client_idle_past_azurites_keep_alive_answers_at_once(storage: str) -> None:
    accounts = StorageAccounts()
    try:
        queue = accounts.queue(storage, "idle")
        await queue.create_queue()
        await asyncio.sleep(AZURITE_KEEP_ALIVE_SECONDS + 0.5)
        started = time.monotonic()
        await queue.send_message("still here")
        assert time.monotonic() - started < 0.5
        assert (await queue.get_queue_properties()).approximate_message_count == 1
    finally:
        await accounts.close()
