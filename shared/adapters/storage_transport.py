"""The HTTP transport every storage client of the app uses.

Idle connections are closed after a few seconds, before a server would close them (Azurite
does at 5 s), so that no request goes out on a connection the server has just dropped: the
SDK retries a GET that meets a closed connection, but not a POST such as a batch transaction.
"""

from __future__ import annotations

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport

IDLE_SECONDS = 3.0


class StorageTransport(AioHttpTransport):
    async def open(self) -> None:
        if not getattr(self, "session", None) and self._session_owner:
            self.session: aiohttp.ClientSession | None = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_SECONDS),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=self._use_env_settings,
            )
        await super().open()
