"""The app's settings, read once from the environment (and host.json) into a frozen object.

The same names appear in local.settings.example.json, infra/ and the README's settings table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APP_ROOT = Path(__file__).resolve().parents[1]

AZURITE_CONNECTION = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
GRAPH_CREDENTIALS = ("client-secret", "managed-identity", "default")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class Settings:
    storage_connection: str
    queue_message_encoding: str  # "base64" or "none", as host.json tells the Functions host
    auth_enabled: bool  # the platform authenticates callers and passes their principal
    secrets_file: Path
    key_vault_url: str | None  # the vault holding the SMTP password; None: the development file store
    secret_cache_seconds: float
    parameters_cache_seconds: float
    retry_base_seconds: float
    max_attempts: int
    smtp_timeout_seconds: float
    sending_lease_seconds: float
    throttle_window_seconds: float = 60  # a calendar minute; tests run the real code on a shorter one
    # Exchange through Microsoft Graph (shared/adapters/graph_credentials.py says what each means)
    graph_credential: str = "default"  # client-secret, managed-identity or default
    graph_tenant_id: str | None = None
    graph_client_id: str | None = None  # the app registration, or a user-assigned managed identity
    graph_client_secret_name: str = "graph-client-secret"  # in the secret store, as the SMTP password
    graph_base_url: str = GRAPH_BASE_URL
    graph_authority_host: str | None = None  # None: azure-identity's default (AZURE_AUTHORITY_HOST or public cloud)
    graph_timeout_seconds: float = 60


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"setting {name} must be a number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"setting {name} must not be negative")
    return value


def queue_encoding_from_host_json(path: Path) -> str:
    try:
        host = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "base64"
    encoding = host.get("extensions", {}).get("queues", {}).get("messageEncoding", "base64")
    if encoding not in ("base64", "none"):
        raise ValueError(f"host.json messageEncoding must be base64 or none, not {encoding!r}")
    return str(encoding)


def load_settings(environ: Mapping[str, str] | None = None, host_json: Path | None = None) -> Settings:
    env = os.environ if environ is None else environ
    storage = env.get("AzureWebJobsStorage", "").strip()
    if not storage:
        raise ValueError("setting AzureWebJobsStorage is missing: the storage connection string")
    if storage.replace(" ", "").lower() == "usedevelopmentstorage=true":
        storage = AZURITE_CONNECTION
    secrets_file = Path(env.get("MAILROOM_SECRETS_FILE", "") or ".local/secrets.json")
    if not secrets_file.is_absolute():
        secrets_file = APP_ROOT / secrets_file
    key_vault_url = env.get("MAILROOM_KEY_VAULT_URL", "").strip().rstrip("/") or None
    if key_vault_url and not key_vault_url.lower().startswith("https://"):
        raise ValueError(f"setting MAILROOM_KEY_VAULT_URL must be the vault's https:// URL, not {key_vault_url!r}")
    return Settings(
        storage_connection=storage,
        queue_message_encoding=queue_encoding_from_host_json(host_json or APP_ROOT / "host.json"),
        auth_enabled=env.get("WEBSITE_AUTH_ENABLED", "").lower() == "true",
        secrets_file=secrets_file,
        key_vault_url=key_vault_url,
        secret_cache_seconds=_number(env, "MAILROOM_SECRET_CACHE_SECONDS", 300),
        parameters_cache_seconds=_number(env, "MAILROOM_PARAMETERS_CACHE_SECONDS", 5),
        retry_base_seconds=_number(env, "MAILROOM_RETRY_BASE_SECONDS", 60),
        max_attempts=max(1, int(_number(env, "MAILROOM_MAX_ATTEMPTS", 6))),
        smtp_timeout_seconds=_number(env, "MAILROOM_SMTP_TIMEOUT_SECONDS", 60),
        sending_lease_seconds=_number(env, "MAILROOM_SENDING_LEASE_SECONDS", 600),
        throttle_window_seconds=max(1.0, _number(env, "MAILROOM_THROTTLE_WINDOW_SECONDS", 60)),
        **_graph_settings(env),
    )


def _graph_settings(env: Mapping[str, str]) -> dict[str, Any]:
    credential = env.get("MAILROOM_GRAPH_CREDENTIAL", "").strip().lower() or "default"
    if credential not in GRAPH_CREDENTIALS:
        raise ValueError(f"setting MAILROOM_GRAPH_CREDENTIAL must be one of {', '.join(GRAPH_CREDENTIALS)}")
    base_url = env.get("MAILROOM_GRAPH_BASE_URL", "").strip().rstrip("/") or GRAPH_BASE_URL
    loopback = base_url.lower().startswith(tuple(f"http://{host}" for host in _LOOPBACK_HOSTS))
    if not (base_url.lower().startswith("https://") or loopback):
        raise ValueError("setting MAILROOM_GRAPH_BASE_URL must be an https:// URL (http only on loopback, for tests)")
    return {
        "graph_credential": credential,
        "graph_tenant_id": env.get("MAILROOM_GRAPH_TENANT_ID", "").strip() or None,
        "graph_client_id": env.get("MAILROOM_GRAPH_CLIENT_ID", "").strip() or None,
        "graph_client_secret_name": env.get("MAILROOM_GRAPH_CLIENT_SECRET_NAME", "").strip() or "graph-client-secret",
        "graph_base_url": base_url,
        "graph_authority_host": env.get("MAILROOM_GRAPH_AUTHORITY_HOST", "").strip() or None,
        "graph_timeout_seconds": _number(env, "MAILROOM_GRAPH_TIMEOUT_SECONDS", 60) or 60,
    }
