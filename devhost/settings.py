"""App settings the way Core Tools and the platform provide them: `local.settings.json` and
`%NAME%` binding expressions.

Variables already in the environment win over `local.settings.json` (as with `func start`),
so `MAILROOM_APP_KEY=... python -m devhost` overrides the file for one run without editing it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("devhost.settings")

LOCAL_SETTINGS_FILE = "local.settings.json"
DEFAULT_CONNECTION = "AzureWebJobsStorage"
_EXPRESSION = re.compile(r"%([^%\s]+)%")


class SettingError(ValueError):
    """A setting the app's bindings need is missing or unusable."""


@dataclass(frozen=True)
class LocalSettings:
    """What `local.settings.json` contributed, and which of its names the environment overrode."""

    applied: tuple[str, ...] = ()
    overridden: tuple[str, ...] = ()
    http_port: int | None = None


def load_local_settings(
    app_dir: Path, environ: MutableMapping[str, str] | None = None, *, path: Path | None = None
) -> LocalSettings:
    """Copies `Values` into the environment, leaving variables that are already set alone."""
    target = os.environ if environ is None else environ
    path = path or app_dir / LOCAL_SETTINGS_FILE
    if not path.exists():
        log.info("No %s: using the environment only", path)
        return LocalSettings()
    document = json.loads(path.read_text(encoding="utf-8"))
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise SettingError(f"{path}: 'Values' must be an object of strings")
    applied, overridden = [], []
    for name, value in values.items():
        if name in target:
            overridden.append(name)
            continue
        target[name] = _as_setting_text(value)
        applied.append(name)
    host_section = document.get("Host") or {}
    port = host_section.get("LocalHttpPort")
    return LocalSettings(
        applied=tuple(applied),
        overridden=tuple(overridden),
        http_port=int(port) if port is not None else None,
    )


def _as_setting_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def expand_setting_expressions(text: str, *, environ: Mapping[str, str] | None = None, usage: str = "a binding") -> str:
    """Replaces each `%NAME%` with the app setting NAME, as the runtime does for binding values."""
    source = os.environ if environ is None else environ

    def resolve(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in source:
            raise SettingError(f"app setting {name!r} used by {usage} is not set")
        return source[name]

    return _EXPRESSION.sub(resolve, text)


def connection_string(setting: str | None, *, environ: Mapping[str, str] | None = None) -> str:
    """The storage connection string behind a trigger's `connection` setting name.

    Like the runtime, `MyStorage` is also looked up as `AzureWebJobsMyStorage`. Identity-based
    connections (`<name>__queueServiceUri`) need Entra credentials devhost does not carry.
    """
    source = os.environ if environ is None else environ
    name = setting or DEFAULT_CONNECTION
    for candidate in (name, f"AzureWebJobs{name}"):
        value = source.get(candidate, "").strip()
        if value:
            return value
    if any(key.startswith(f"{name}__") for key in source):
        raise SettingError(
            f"connection {name!r} is identity-based ({name}__...): devhost needs a connection "
            "string such as UseDevelopmentStorage=true"
        )
    raise SettingError(f"connection setting {name!r} is not set (local.settings.json Values)")
