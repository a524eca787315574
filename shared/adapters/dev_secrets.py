"""A development-only secret store: a git-ignored JSON file readable only by its owner.

It stands behind the same port as Key Vault, so nothing above it can tell the difference.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class FileSecretStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        log.warning(
            "secrets are kept in %s, a development secret store: for development only, "
            "production keeps them in Key Vault",
            path,
        )

    def _read(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}

    def _write(self, secrets: dict[str, str]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(secrets, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self._path)

    async def get(self, name: str) -> str | None:
        return (await asyncio.to_thread(self._read)).get(name)

    async def set(self, name: str, value: str) -> None:
        secrets = await asyncio.to_thread(self._read)
        secrets[name] = value
        await asyncio.to_thread(self._write, secrets)

    def forget(self, name: str) -> None:
        """Nothing is cached: every get() reads the file."""

    async def delete(self, name: str) -> None:
        secrets = await asyncio.to_thread(self._read)
        if secrets.pop(name, None) is not None:
            await asyncio.to_thread(self._write, secrets)
