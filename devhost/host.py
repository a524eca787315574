"""The local stand-in for the Azure Functions host: one object that serves the app's HTTP
functions, listens to its queues and runs its timers, as the platform would.

Everything that can be wrong with the app's metadata (routes, schedules, settings, bindings)
is checked before anything starts, so a mistake stops the host at once with its reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import TracebackType

from azure.functions.decorators.function_app import FunctionRegister

from devhost.auth import AUTH_ENABLED_SETTING, KeyRing
from devhost.catalog import Catalog, QueueFunction, index_app
from devhost.host_config import HostConfig
from devhost.http_server import HttpServer
from devhost.invoker import Invoker
from devhost.queue_listener import DEFAULT_LEASE, QueueListener
from devhost.route_template import RouteTemplate
from devhost.routes import Route, RouteTable
from devhost.settings import connection_string, expand_setting_expressions
from devhost.startup_table import describe_functions
from devhost.storage import StorageAccounts, expand_development_storage
from devhost.timers import TimerListener, parse_schedule

log = logging.getLogger("devhost")


class Host:
    """`await start()` (or `async with Host(...)`) serves the app; `stop()` winds it down.

    `port=0` asks the system for a free port; `port` and `base_url` then say which one.
    `queue_lease` is how long a received message stays invisible between renewals (ten
    minutes on Azure); tests shorten it to see renewal happen.
    """

    def __init__(
        self,
        app: FunctionRegister,
        app_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 7071,
        queue_lease: timedelta = DEFAULT_LEASE,
        shutdown_grace: float = 5.0,
    ) -> None:
        self._app = app
        self._app_dir = app_dir.resolve()
        self._bind_host = host
        self._requested_port = port
        self._queue_lease = queue_lease
        self._grace = shutdown_grace
        self._storage = StorageAccounts()
        self._http: HttpServer | None = None
        self._queues: dict[tuple[str, str], QueueListener] = {}
        self._timers: list[TimerListener] = []
        self._auth_setting_before: str | None = None
        self._started = False

    @property
    def port(self) -> int:
        if self._http is None or self._http.port is None:
            raise RuntimeError("the host is not started")
        return self._http.port

    @property
    def base_url(self) -> str:
        return f"http://{self._bind_host}:{self.port}"

    async def __aenter__(self) -> Host:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        config = HostConfig.read(self._app_dir)
        catalog = index_app(self._app)
        invoker = Invoker(function_directory=self._app_dir, timeout=config.function_timeout)
        routes = self._route_table(catalog, config)
        queues = [self._queue_address(f) for f in catalog.queues]
        self._timers = [
            TimerListener(f, parse_schedule(f.schedule, usage=f"function {f.name!r}"), invoker) for f in catalog.timers
        ]
        keys = KeyRing.from_environ()
        if keys.empty and any(f.auth_level != "anonymous" for f in catalog.http):
            log.warning(
                "Neither MAILROOM_ADMIN_KEY nor MAILROOM_APP_KEY is set: every function-level route will answer 401"
            )
        if catalog.timers and os.environ.get("WEBSITE_TIME_ZONE"):
            log.warning("WEBSITE_TIME_ZONE is not supported by devhost: schedules run in UTC")
        self._auth_setting_before = os.environ.get(AUTH_ENABLED_SETTING)
        os.environ[AUTH_ENABLED_SETTING] = "True"
        self._started = True
        try:
            for function, connection, queue_name in queues:
                self._queues[connection, queue_name] = self._queue_listener(
                    function, connection, queue_name, config, invoker
                )
            self._http = HttpServer(
                routes,
                invoker,
                keys,
                host=self._bind_host,
                port=self._requested_port,
                shutdown_grace=self._grace,
            )
            await self._http.start()
            log.info(
                "%s",
                describe_functions(
                    catalog,
                    base_url=self.base_url,
                    route_prefix=config.route_prefix,
                    queues={function.name: name for function, _, name in queues},
                    next_runs={timer.function.name: timer.next_occurrence for timer in self._timers},
                ),
            )
            for listener in self._queues.values():
                await listener.start()
            for timer in self._timers:
                await timer.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stops taking work, gives running invocations the grace period, closes clients."""
        if not self._started:
            return
        self._started = False
        if self._http is not None:
            await self._http.stop()
        await asyncio.gather(
            *(queue.stop(grace=self._grace) for queue in self._queues.values()),
            *(timer.stop(grace=self._grace) for timer in self._timers),
        )
        await self._storage.close()
        self._http, self._queues, self._timers = None, {}, []
        if self._auth_setting_before is None:
            os.environ.pop(AUTH_ENABLED_SETTING, None)
        else:
            os.environ[AUTH_ENABLED_SETTING] = self._auth_setting_before
        log.info("Host stopped")

    def _route_table(self, catalog: Catalog, config: HostConfig) -> RouteTable:
        routes = RouteTable([Route(RouteTemplate.parse(f"{config.route_prefix}/{f.route}"), f) for f in catalog.http])
        for earlier, hidden in routes.shadowed():
            log.warning(
                "Route /%s of '%s' is unreachable: '%s' (/%s) comes first by function name and "
                "matches it, on Azure as here. Rename a function or constrain the parameter.",
                hidden.template.text,
                hidden.function.name,
                earlier.function.name,
                earlier.template.text,
            )
        return routes

    def _queue_address(self, function: QueueFunction) -> tuple[QueueFunction, str, str]:
        """The function with its resolved connection string and queue name."""
        queue_name = expand_setting_expressions(function.queue_name, usage=f"function {function.name!r}")
        connection = expand_development_storage(connection_string(function.connection))
        return function, connection, queue_name

    def _queue_listener(
        self,
        function: QueueFunction,
        connection: str,
        queue_name: str,
        config: HostConfig,
        invoker: Invoker,
    ) -> QueueListener:
        poison_name = f"{queue_name}-poison"
        return QueueListener(
            function,
            queue=self._storage.queue(connection, queue_name),
            poison_queue=self._storage.queue(connection, poison_name),
            options=config.queues,
            invoker=invoker,
            lease=self._queue_lease,
            on_poisoned=partial(self._wake, connection, poison_name),
        )

    def _wake(self, connection: str, queue_name: str) -> None:
        listener = self._queues.get((connection, queue_name))
        if listener is not None:
            listener.wake()
