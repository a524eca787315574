"""The parts of `host.json` that change how functions run: route prefix, queue trigger options,
function timeout and the default log level.

Keys are read case-insensitively because the runtime binds host.json through .NET
configuration, which ignores case; durations are TimeSpan strings (see `timespan`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from devhost.timespan import parse_timespan

HOST_FILE = "host.json"
MESSAGE_ENCODINGS = ("base64", "none")
_LOG_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "information": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "none": logging.CRITICAL + 10,
}


class HostConfigError(ValueError):
    """host.json holds a value the runtime would refuse."""


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues`, with the queue extension's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: timedelta = timedelta(minutes=1)
    visibility_timeout: timedelta = timedelta(0)
    max_dequeue_count: int = 5
    message_encoding: str = "base64"


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    queues: QueueOptions = field(default_factory=QueueOptions)
    function_timeout: timedelta | None = timedelta(minutes=30)
    log_level: int = logging.INFO

    @classmethod
    def read(cls, app_dir: Path) -> HostConfig:
        path = app_dir / HOST_FILE
        if not path.exists():
            return cls()
        try:
            return cls.from_document(json.loads(path.read_text(encoding="utf-8")))
        except HostConfigError as error:
            raise HostConfigError(f"{path}: {error}") from None

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> HostConfig:
        extensions = _section(document, "extensions")
        http = _section(extensions, "http")
        prefix = _get(http, "routePrefix")
        timeout = _get(document, "functionTimeout")
        level = _get(_section(_section(document, "logging"), "logLevel"), "default")
        return cls(
            route_prefix="api" if prefix is None else str(prefix).strip("/"),
            queues=_queue_options(_section(extensions, "queues")),
            function_timeout=_function_timeout(timeout),
            log_level=_LOG_LEVELS.get(str(level).lower(), logging.INFO) if level else logging.INFO,
        )


def _queue_options(queues: Mapping[str, Any]) -> QueueOptions:
    batch_size = _integer(queues, "batchSize", 16, low=1, high=32)
    encoding = str(_get(queues, "messageEncoding") or "base64").lower()
    if encoding not in MESSAGE_ENCODINGS:
        raise HostConfigError(f"extensions.queues.messageEncoding must be one of {MESSAGE_ENCODINGS}")
    polling = _duration(queues, "maxPollingInterval", timedelta(minutes=1))
    if polling < timedelta(milliseconds=100):
        raise HostConfigError("extensions.queues.maxPollingInterval must be at least 00:00:00.100")
    return QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=_integer(queues, "newBatchThreshold", batch_size // 2, low=0),
        max_polling_interval=polling,
        visibility_timeout=_duration(queues, "visibilityTimeout", timedelta(0)),
        max_dequeue_count=_integer(queues, "maxDequeueCount", 5, low=1),
        message_encoding=encoding,
    )


def _function_timeout(value: Any) -> timedelta | None:
    if value is None:
        return timedelta(minutes=30)
    text = str(value).strip()
    if text == "-1":
        return None
    span = _timespan(text, "functionTimeout")
    return None if span <= timedelta(0) else span


def _get(section: Mapping[str, Any], key: str) -> Any:
    for name, value in section.items():
        if name.lower() == key.lower():
            return value
    return None


def _section(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = _get(document, key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise HostConfigError(f"{key!r} must be an object")
    return value


def _integer(section: Mapping[str, Any], key: str, default: int, *, low: int, high: int | None = None) -> int:
    value = _get(section, key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise HostConfigError(f"extensions.queues.{key} must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise HostConfigError(f"extensions.queues.{key} must be {bound}")
    return value


def _duration(section: Mapping[str, Any], key: str, default: timedelta) -> timedelta:
    value = _get(section, key)
    if value is None:
        return default
    return _timespan(value, f"extensions.queues.{key}")


def _timespan(value: Any, where: str) -> timedelta:
    if not isinstance(value, str):
        raise HostConfigError(f'{where} must be a TimeSpan string such as "00:00:02"')
    try:
        return parse_timespan(value)
    except ValueError as error:
        raise HostConfigError(f"{where}: {error}") from None
