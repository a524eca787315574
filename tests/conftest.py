"""Fixtures shared by every test level: real Azurite and real SMTP servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.azurite import Azurite, start_azurite
from tests.support.storage_reset import empty_account


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = start_azurite()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def storage(azurite: Azurite) -> AsyncIterator[str]:
    """An empty storage account; yields its connection string."""
    await empty_account(azurite.connection_string)
    yield azurite.connection_string
