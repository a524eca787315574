"""How the app gets a Key Vault token in tests, without a test-only setting in the app.

`ManagedIdentityEndpoint` plays the endpoint App Service runs beside every app with a managed
identity (`IDENTITY_ENDPOINT`, checked with `IDENTITY_HEADER`): the app's own
`DefaultAzureCredential` asks it for a token, as on Azure, and gets one the Key Vault stand-in
accepts. `StaticTokenCredential` is the in-process shortcut for tests that build the client.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken

from tests.support.key_vault_server import HOST, Answer, json_handler, serve


class ManagedIdentityEndpoint:
    def __init__(self, issue_token: Callable[[], str]) -> None:
        self.header = secrets.token_urlsafe(16)
        self._issue_token = issue_token
        self._server = ThreadingHTTPServer((HOST, 0), json_handler(self._answer))

    @property
    def environment(self) -> dict[str, str]:
        """What App Service sets for the app's process."""
        endpoint = f"http://{HOST}:{self._server.server_address[1]}/msi/token"
        return {"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": self.header}

    def start(self) -> None:
        serve(self._server)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, target: str, headers: Any, body: bytes) -> Answer:
        if headers.get("X-IDENTITY-HEADER") != self.header:
            return 401, {}, {"error": "unauthorized", "error_description": "X-IDENTITY-HEADER is wrong or missing"}
        resource = parse_qs(urlsplit(target).query).get("resource", [""])[0]
        expires_on = str(int(time.time()) + 3600)
        token = {"access_token": self._issue_token(), "expires_on": expires_on, "resource": resource}
        return 200, {}, {**token, "token_type": "Bearer"}


class StaticTokenCredential:
    """A test credential: one token the stand-in issued; records the scopes and tenants asked for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.asked: list[tuple[tuple[str, ...], str | None]] = []

    async def get_token(self, *scopes: str, tenant_id: str | None = None, **kwargs: Any) -> AccessToken:
        self.asked.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass
