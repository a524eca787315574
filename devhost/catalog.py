"""Imports the app and reads its functions from the app's own metadata (`app.get_functions()`),
so devhost runs exactly what the Python worker would index — nothing is registered twice.

Bindings devhost cannot honour fail the start-up loudly rather than being silently ignored.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from azure.functions.decorators.function_app import Function, FunctionRegister
from azure.functions.decorators.http import HttpTrigger
from azure.functions.decorators.queue import QueueTrigger
from azure.functions.decorators.timer import TimerTrigger

CONTEXT_ARGUMENT = "context"


class UnsupportedFunction(ValueError):
    """The app declares something devhost cannot run as Azure would."""


@dataclass(frozen=True)
class IndexedFunction:
    name: str
    user_function: Callable[..., Any]
    trigger_argument: str
    wants_context: bool


@dataclass(frozen=True)
class HttpFunction(IndexedFunction):
    route: str
    methods: frozenset[str]
    auth_level: str


@dataclass(frozen=True)
class QueueFunction(IndexedFunction):
    queue_name: str
    connection: str


@dataclass(frozen=True)
class TimerFunction(IndexedFunction):
    schedule: str
    run_on_startup: bool


@dataclass(frozen=True)
class Catalog:
    """The app's functions by trigger, each list in the runtime's order: by function name."""

    http: tuple[HttpFunction, ...]
    queues: tuple[QueueFunction, ...]
    timers: tuple[TimerFunction, ...]


def load_function_app(app_dir: Path, module_name: str = "function_app") -> FunctionRegister:
    """Imports `module_name` from `app_dir` and returns its `app` (or its only FunctionApp)."""
    directory = str(app_dir.resolve())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = importlib.import_module(module_name)
    app = getattr(module, "app", None)
    if isinstance(app, FunctionRegister):
        return app
    found = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    if len(found) != 1:
        raise UnsupportedFunction(f"{module_name} must define exactly one FunctionApp (found {len(found)})")
    return found[0]


def index_app(app: FunctionRegister) -> Catalog:
    """The app's functions, as the worker indexes them.

    `get_functions()` remembers the names it has seen and refuses to index an app twice, so
    that memory is cleared first: a test may start several hosts on one app.
    """
    app.functions_bindings = None
    http: list[HttpFunction] = []
    queues: list[QueueFunction] = []
    timers: list[TimerFunction] = []
    for function in sorted(app.get_functions(), key=_function_name_key):
        indexed = _index(function)
        if isinstance(indexed, HttpFunction):
            http.append(indexed)
        elif isinstance(indexed, QueueFunction):
            queues.append(indexed)
        else:
            timers.append(indexed)
    return Catalog(tuple(http), tuple(queues), tuple(timers))


def _function_name_key(function: Function) -> str:
    return (function.get_function_name() or "").casefold()


def _index(function: Function) -> HttpFunction | QueueFunction | TimerFunction:
    name = function.get_function_name() or function.get_user_function().__name__
    trigger = function.get_trigger()
    if trigger is None:
        raise UnsupportedFunction(f"function {name!r} has no trigger")
    _reject_extra_bindings(name, function, trigger)
    user_function = function.get_user_function()
    common: dict[str, Any] = {
        "name": name,
        "user_function": user_function,
        "trigger_argument": trigger.name,
        "wants_context": _check_signature(name, user_function, trigger.name),
    }
    if isinstance(trigger, HttpTrigger):
        methods = frozenset(_text(m).upper() for m in (trigger.methods or ()))
        return HttpFunction(
            **common,
            route=(trigger.route or name).strip("/"),
            methods=methods,
            auth_level=_text(trigger.auth_level or "function").lower(),
        )
    if isinstance(trigger, QueueTrigger):
        return QueueFunction(**common, queue_name=trigger.queue_name, connection=trigger.connection or "")
    if isinstance(trigger, TimerTrigger):
        return TimerFunction(**common, schedule=trigger.schedule, run_on_startup=bool(trigger.run_on_startup))
    raise UnsupportedFunction(f"function {name!r}: devhost does not run {trigger.get_binding_name()} triggers")


def _reject_extra_bindings(name: str, function: Function, trigger: Any) -> None:
    for binding in function.get_bindings():
        if binding is trigger:
            continue
        if binding.get_binding_name() == "http" and binding.name == "$return":
            continue
        raise UnsupportedFunction(
            f"function {name!r}: devhost does not support the {binding.get_binding_name()} "
            f"binding {binding.name!r}; use the SDK client from shared/ instead"
        )


def _check_signature(name: str, user_function: Callable[..., Any], trigger_argument: str) -> bool:
    """True when the function takes `context`; any other unbound parameter is an error."""
    parameters = inspect.signature(user_function).parameters
    if trigger_argument not in parameters:
        raise UnsupportedFunction(f"function {name!r} has no parameter {trigger_argument!r}")
    unbound = [
        p.name
        for p in parameters.values()
        if p.name not in (trigger_argument, CONTEXT_ARGUMENT)
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if unbound:
        raise UnsupportedFunction(f"function {name!r}: no binding for parameters {unbound}")
    return CONTEXT_ARGUMENT in parameters


def _text(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)
