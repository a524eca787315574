"""Fixtures shared by every test level: real Azurite and real SMTP servers on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator

import pytest
import trustme

from tests.support.azurite import Azurite, start_azurite
from tests.support.smtp_server import SmtpServerOptions, SmtpTestServer
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


@pytest.fixture(scope="session")
def tls_authority() -> trustme.CA:
    """The certificate authority that signs the test SMTP servers' certificates."""
    return trustme.CA()


@pytest.fixture
def trusting_tls_context(tls_authority: trustme.CA) -> ssl.SSLContext:
    """A client TLS context that trusts the test SMTP servers, and verifies them as usual."""
    context = ssl.create_default_context()
    tls_authority.configure_trust(context)
    return context


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest, tls_authority: trustme.CA) -> Iterator[SmtpTestServer]:
    """A real aiosmtpd server on 127.0.0.1; options from `@pytest.mark.smtp_server(...)`."""
    marker = request.node.get_closest_marker("smtp_server")
    options = SmtpServerOptions(**(marker.kwargs if marker else {}))
    server = SmtpTestServer(options, tls_authority)
    try:
        server.start()
    except OSError as error:
        pytest.skip(f"cannot listen on {options.port}: {error}")
    try:
        yield server
    finally:
        server.stop()
