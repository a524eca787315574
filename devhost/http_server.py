"""The HTTP front door: routes a request to its function, checks the key, plays the platform's
authentication headers, invokes the function and returns its response.

Order of checks is the platform's: no route → 404, route without the method → 405 (Azure's
own host answers 404 here; the 405 tells a developer what is wrong), then the key → 401, so
an unknown path never reveals whether it needs a key. A failing function is a bare 500: the
caller never sees a stack trace, the log does.
"""

from __future__ import annotations

import logging

from aiohttp import web

from devhost.auth import (
    KeyRing,
    is_authorized,
    presented_key,
    principal_headers,
    without_principal_headers,
)
from devhost.http_messages import UnexpectedReturn, function_request, joined, web_response
from devhost.invoker import InvocationFailed, Invoker
from devhost.routes import MethodNotAllowed, RouteTable

log = logging.getLogger("devhost.http")

MAX_REQUEST_BYTES = 100 * 1024 * 1024


class HttpServer:
    def __init__(
        self,
        routes: RouteTable,
        invoker: Invoker,
        keys: KeyRing,
        *,
        host: str,
        port: int,
        shutdown_grace: float = 5.0,
    ) -> None:
        self._routes = routes
        self._invoker = invoker
        self._keys = keys
        self._host = host
        self._requested_port = port
        self._grace = shutdown_grace
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        application = web.Application(client_max_size=MAX_REQUEST_BYTES)
        application.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(application, access_log=None, handle_signals=False, shutdown_timeout=self._grace)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._requested_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        resolution = self._routes.resolve(request.method, request.rel_url.raw_path)
        if resolution is None:
            return _refuse(request, 404, "no function route matches")
        if isinstance(resolution, MethodNotAllowed):
            allow = ", ".join(sorted(resolution.allowed))
            return _refuse(request, 405, f"the route allows {allow}", headers={"Allow": allow})
        function = resolution.route.function
        headers = joined(request.headers, separator=", ")
        holder = self._keys.identify(presented_key(_lower(headers), request.query))
        if not is_authorized(function.auth_level, holder):
            return _refuse(request, 401, f"{function.auth_level}-level route and no valid key")
        forwarded = without_principal_headers(headers)
        if holder is not None:
            forwarded.update(principal_headers(holder))
        body = await request.read()
        incoming = function_request(request, body, headers=forwarded, route_params=resolution.values)
        reason = f"HTTP {request.method} {request.path}"
        try:
            result = await self._invoker.invoke(function, incoming, reason=reason)
            return web_response(result)
        except InvocationFailed:
            return web.Response(status=500, text="Internal Server Error")
        except UnexpectedReturn as error:
            log.error("Function '%s' answered %s %s wrongly: %s", function.name, request.method, request.path, error)
            return web.Response(status=500, text="Internal Server Error")


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _refuse(request: web.Request, status: int, why: str, *, headers: dict[str, str] | None = None) -> web.Response:
    log.info("%s %s → %d (%s)", request.method, request.path, status, why)
    return web.Response(status=status, headers=headers)
