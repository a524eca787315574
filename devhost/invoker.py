"""Runs one invocation of a user function as the Python worker does: `async def` functions on
the host's event loop, plain functions in a worker thread, both bounded by functionTimeout.

Every invocation is logged in the runtime's own words ("Executing/Executed 'Functions.x'"),
with its trigger detail, duration and outcome; a failure is logged once, here, with its
traceback, and surfaces to the trigger as `InvocationFailed`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import _abc

from devhost.catalog import CONTEXT_ARGUMENT, IndexedFunction

log = logging.getLogger("devhost.functions")


class InvocationFailed(Exception):
    """The function raised or overran functionTimeout; already logged with its traceback."""


class Invoker:
    def __init__(self, *, function_directory: Path, timeout: timedelta | None) -> None:
        self._directory = str(function_directory)
        self._timeout = timeout.total_seconds() if timeout else None

    async def invoke(self, function: IndexedFunction, trigger_value: Any, *, reason: str) -> Any:
        invocation_id = str(uuid.uuid4())
        arguments: dict[str, Any] = {function.trigger_argument: trigger_value}
        if function.wants_context:
            arguments[CONTEXT_ARGUMENT] = InvocationContext(invocation_id, function.name, self._directory)
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name, reason, invocation_id)
        started = time.perf_counter()
        scope = asyncio.timeout(self._timeout)
        try:
            async with scope:
                result = await _call(function, arguments)
        except asyncio.CancelledError:
            log.warning(
                "Executed 'Functions.%s' (Cancelled, Id=%s, Duration=%dms): the host is stopping",
                function.name,
                invocation_id,
                _elapsed_ms(started),
            )
            raise
        except Exception as error:
            if isinstance(error, TimeoutError) and scope.expired():
                log.error(
                    "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): timeout of %s "
                    "(host.json functionTimeout) exceeded; %s",
                    function.name,
                    invocation_id,
                    _elapsed_ms(started),
                    timedelta(seconds=self._timeout or 0),
                    reason,
                )
            else:
                log.error(
                    "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): %s",
                    function.name,
                    invocation_id,
                    _elapsed_ms(started),
                    reason,
                    exc_info=error,
                )
            raise InvocationFailed(function.name) from error
        log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms): %s",
            function.name,
            invocation_id,
            _elapsed_ms(started),
            reason,
        )
        return result


async def _call(function: IndexedFunction, arguments: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(function.user_function):
        return await function.user_function(**arguments)
    result = await asyncio.to_thread(function.user_function, **arguments)
    return await result if inspect.isawaitable(result) else result


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


class InvocationContext(func.Context):
    """The `context` argument a function may declare, as the worker fills it."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local = threading.local()
        self._thread_local.invocation_id = invocation_id
        self._trace = _TraceContext(f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> _abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> _abc.RetryContext:
        return _RetryContext()


class _TraceContext(_abc.TraceContext):
    def __init__(self, trace_parent: str) -> None:
        self._trace_parent = trace_parent

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None
