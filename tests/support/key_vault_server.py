"""A Key Vault stand-in on 127.0.0.1: the secrets REST API over HTTPS (a trustme certificate).

It speaks what `SecretClient` sends: PUT, GET and DELETE /secrets/{name}[/{version}], GET and
DELETE /deletedsecrets/{name}, POST /deletedsecrets/{name}/recover, each with an `api-version`;
soft-delete as Key Vault has it (a deleted name cannot be set again until recovered or purged);
and the challenge: a request without a token it issued (`issue_token`, handed out by a test
credential or `tests.support.managed_identity`) gets 401 with `WWW-Authenticate`. A test may change
a secret directly (`put`, a rotation), refuse every request (`refuse(403)`) or stop it.
`requests` records method, path and whether the token was valid, never a value.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

HOST = "127.0.0.1"
TENANT = "72f988bf-0000-4000-8000-00000000c0de"
RESOURCE = "https://vault.azure.net"
CHALLENGE = f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="{RESOURCE}"'
_API_VERSION = re.compile(r"^(7\.[0-9]|\d{4}-\d{2}-\d{2})(-preview)?$")
_ROUTE = re.compile(r"^/(secrets|deletedsecrets)/([0-9A-Za-z-]{1,127})(?:/([0-9A-Za-z-]*))?/?$")
Answer = tuple[int, dict[str, str], Any]  # status, headers, JSON document (None: no body)


@dataclass
class _Secret:
    versions: list[tuple[str, str, float]] = field(default_factory=list)  # (version, value, created)
    deleted_at: float | None = None


class KeyVaultStandIn:
    def __init__(self, authority: trustme.CA) -> None:
        self.requests: list[tuple[str, str, bool]] = []
        self.tokens_issued = 0
        self._secrets: dict[str, _Secret] = {}
        self._tokens: set[str] = set()
        self._refusal: tuple[int, str, str] | None = None
        self._lock = threading.Lock()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(HOST, "localhost").configure_cert(context)
        self._server = ThreadingHTTPServer((HOST, 0), json_handler(self._answer))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self._server.server_address[1]}"

    def start(self) -> None:
        serve(self._server)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue_token(self) -> str:
        with self._lock:
            token = f"kv-{secrets.token_urlsafe(24)}"
            self._tokens.add(token)
            self.tokens_issued += 1
            return token

    def put(self, name: str, value: str) -> None:
        """A new version written directly, as an administrator rotating it in the portal would."""
        with self._lock:
            self._secrets.setdefault(name, _Secret()).versions.append((secrets.token_hex(16), value, time.time()))

    def value(self, name: str) -> str | None:
        with self._lock:
            found = self._secrets.get(name)
            return found.versions[-1][1] if found and found.deleted_at is None else None

    def is_deleted(self, name: str) -> bool:
        with self._lock:
            found = self._secrets.get(name)
            return found is not None and found.deleted_at is not None

    def refuse(self, status: int | None, code: str = "Forbidden", message: str = "") -> None:
        """Answers every request that carries a valid token with `status` (None: back to normal)."""
        self._refusal = None if status is None else (status, code, message or f"Scripted {status}")

    def reads(self, name: str) -> int:
        """Authorized reads of the secret's value."""
        prefix = f"/secrets/{name}"
        return sum(1 for method, path, ok in self.requests if ok and method == "GET" and path.startswith(prefix))

    def _answer(self, method: str, target: str, headers: Any, body: bytes) -> Answer:
        parts = urlsplit(target)
        authorization = headers.get("Authorization", "")
        valid = authorization.startswith("Bearer ") and authorization[7:] in self._tokens
        self.requests.append((method, parts.path, valid))
        if not valid:
            why = "AKV10032: Invalid token" if authorization else "AKV10000: Request is missing a Bearer or PoP token."
            return 401, {"WWW-Authenticate": CHALLENGE}, _error("Unauthorized", why)
        version = parse_qs(parts.query).get("api-version", [""])[0]
        if not _API_VERSION.match(version):
            return 400, {}, _error("BadParameter", f"The request URI contains an invalid API version: {version!r}")
        if self._refusal is not None:
            status, code, message = self._refusal
            return status, {}, _error(code, message)
        route = _ROUTE.match(parts.path)
        if route is None:
            return 404, {}, _error("NotFound", f"No such operation: {method} {parts.path}")
        collection, name, extra = route.groups()
        with self._lock:
            if collection == "deletedsecrets":
                return self._deleted(method, name, extra)
            return self._live(method, name, extra, body)

    def _live(self, method: str, name: str, version: str | None, body: bytes) -> Answer:
        found = self._secrets.get(name)
        if method == "PUT" and not version:
            if found is not None and found.deleted_at is not None:
                message = (
                    f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be "
                    "reused; in this state, the secret can only be recovered or purged."
                )
                return 409, {}, _error("Conflict", message, inner="ObjectIsDeletedButRecoverable")
            found = self._secrets.setdefault(name, _Secret())
            found.versions.append((secrets.token_hex(16), str(json.loads(body)["value"]), time.time()))
            return 200, {}, self._bundle(name, found)
        if found is not None and found.deleted_at is None:
            if method == "GET":
                chosen = [v for v in found.versions if v[0] == version] if version else found.versions[-1:]
                if chosen:
                    return 200, {}, self._bundle(name, _Secret(chosen))
            elif method == "DELETE" and not version:
                found.deleted_at = time.time()
                return 200, {}, self._bundle(name, found)
        return 404, {}, _error("SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")

    def _deleted(self, method: str, name: str, action: str | None) -> Answer:
        found = self._secrets.get(name)
        if found is None or found.deleted_at is None:
            return 404, {}, _error("SecretNotFound", f"Deleted Secret not found: {name}")
        if method == "GET" and not action:
            return 200, {}, self._bundle(name, found)
        if method == "DELETE" and not action:
            del self._secrets[name]
            return 204, {}, None
        if method == "POST" and action == "recover":
            found.deleted_at = None
            return 200, {}, self._bundle(name, found, with_value=False)
        return 404, {}, _error("NotFound", f"No such operation: {method} /deletedsecrets/{name}/{action}")

    def _bundle(self, name: str, secret: _Secret, *, with_value: bool = True) -> dict[str, Any]:
        """A SecretBundle; a deleted secret's (a DeletedSecretBundle) carries no value."""
        version, value, created = secret.versions[-1]
        attributes = {"enabled": True, "created": int(created), "updated": int(created)}
        bundle: dict[str, Any] = {
            "id": f"{self.url}/secrets/{name}/{version}",
            "contentType": "text/plain",
            "attributes": {**attributes, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
        }
        if secret.deleted_at is not None:
            deleted_at = int(secret.deleted_at)
            bundle.update(recoveryId=f"{self.url}/deletedsecrets/{name}", deletedDate=deleted_at)
            bundle["scheduledPurgeDate"] = deleted_at + 90 * 86400
        elif with_value:
            bundle["value"] = value
        return bundle


def _error(code: str, message: str, *, inner: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return {"error": error}


def serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def json_handler(answer: Callable[[str, str, Any, bytes], Answer]) -> type[BaseHTTPRequestHandler]:
    """A request handler that lets `answer(method, target, headers, body)` decide, and closes the
    connection after each answer, so that a stopped server is unreachable at once."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, document = answer(self.command, self.path, self.headers, body)
            payload = b"" if document is None else json.dumps(document).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json; charset=utf-8"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True

        do_GET = do_PUT = do_DELETE = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
