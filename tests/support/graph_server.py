"""A Microsoft Graph stand-in on 127.0.0.1, speaking the REST paths the Exchange adapter uses.

Graph (plain HTTP, which kiota allows on loopback): POST /v1.0/users/{id}/sendMail, POST
/v1.0/users/{id}/messages (a draft), POST .../messages/{id}/attachments, POST
.../messages/{id}/attachments/createUploadSession, POST .../messages/{id}/send, DELETE
.../messages/{id}; the upload URL it hands out takes PUT with Content-Range (and answers a GET
with where it stands). Sign-in: the Entra ID token endpoint over HTTPS (a trustme certificate),
as azure-identity's ClientSecretCredential insists on, and the App Service managed identity
endpoint. A Graph request without a token it issued gets 401, as Graph would.

A test scripts answers per kind of request (`script("sendMail", Reply(429, ...))`, consumed in
order; a `delay` makes a client time out, `drop` closes the connection unanswered), and reads
what arrived: `requests` (every request, bodies included) and `sent` (each email Graph accepted,
as JSON, with its attachments' bytes). aiohttp serves it from a thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import trustme
from aiohttp import web

HOST = "127.0.0.1"
TENANT = "contoso-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "graph-secret-value"
_UPLOAD_SESSION_SECONDS = 900


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # a JSON document; None: no body
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection instead of answering (after the delay)


USUAL = Reply(status=0)  # in a script: answer this request as usual


def graph_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": "stand-in"}}}


@dataclass(frozen=True)
class Request:
    kind: str  # token, msi, sendMail, draft, attach, createUploadSession, upload, upload-status, send, delete
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    query: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Sent:
    mailbox: str
    message: dict[str, Any]  # the message JSON as the client sent it (sendMail) or the draft's
    attachments: list[tuple[str, bytes]]  # (name, bytes) however they arrived
    via: str  # "sendMail" or "draft"


@dataclass
class _Draft:
    mailbox: str
    message: dict[str, Any]
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class _Upload:
    draft: _Draft
    name: str
    size: int
    received: bytearray = field(default_factory=bytearray)


_GRAPH_ROUTES = [
    ("POST", re.compile(r"^/v1\.0/users/(?P<user>[^/]+)/sendMail$"), "sendMail"),
    ("POST", re.compile(r"^/v1\.0/users/(?P<user>[^/]+)/messages$"), "draft"),
    ("POST", re.compile(r"^/v1\.0/users/(?P<user>[^/]+)/messages/(?P<id>[^/]+)/attachments$"), "attach"),
    (
        "POST",
        re.compile(
            r"^/v1\.0/users/(?P<user>[^/]+)/messages/(?P<id>[^/]+)/attachments/(microsoft\.graph\.)?createUploadSession$"
        ),
        "createUploadSession",
    ),
    ("POST", re.compile(r"^/v1\.0/users/(?P<user>[^/]+)/messages/(?P<id>[^/]+)/send$"), "send"),
    ("DELETE", re.compile(r"^/v1\.0/users/(?P<user>[^/]+)/messages/(?P<id>[^/]+)$"), "delete"),
]


class GraphStandIn:
    def __init__(self, authority: trustme.CA) -> None:
        self.requests: list[Request] = []
        self.sent: list[Sent] = []
        self.identity_header = secrets.token_urlsafe(12)
        self.client_secret = CLIENT_SECRET
        self._scripts: dict[str, list[Reply]] = {}
        self._tokens: set[str] = set()
        self._drafts: dict[str, _Draft] = {}
        self._uploads: dict[str, _Upload] = {}
        self._ids = itertools.count(1)
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(HOST, "localhost").configure_cert(self._tls)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0  # Graph, upload URLs and managed identity (HTTP)
        self.tls_port = 0  # the token endpoint (HTTPS)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1.0"

    @property
    def authority(self) -> str:
        return f"https://{HOST}:{self.tls_port}"

    @property
    def identity_endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/msi/token"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def script(self, kind: str, *replies: Reply) -> None:
        """The next requests of this kind get these answers, in order; then the usual ones again."""
        self._scripts.setdefault(kind, []).extend(replies)

    def reset(self) -> None:
        self.requests.clear()
        self.sent.clear()
        self._scripts.clear()
        self._drafts.clear()
        self._uploads.clear()
        self._ids = itertools.count(1)
        self.client_secret = CLIENT_SECRET

    def of_kind(self, *kinds: str) -> list[Request]:
        return [r for r in self.requests if r.kind in kinds]

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        plain = web.TCPSite(self._runner, HOST, 0)
        secure = web.TCPSite(self._runner, HOST, 0, ssl_context=self._tls)
        await plain.start()
        await secure.start()
        self.port = plain._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.tls_port = secure._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        kind, params = self._route(request.method, request.path)
        self.requests.append(
            Request(
                kind,
                request.method,
                request.path,
                {k.lower(): v for k, v in request.headers.items()},
                body,
                dict(request.query),
            )
        )
        scripted = self._scripts.get(kind)
        reply = scripted.pop(0) if scripted else None
        if reply is not None and reply.delay:
            await asyncio.sleep(reply.delay)
        if reply is not None and reply.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if reply is None or reply.status == 0:
            reply = self._usual(kind, request, params, body)
        text = json.dumps(reply.body) if reply.body is not None else None
        headers = {**reply.headers, **({"Content-Type": "application/json"} if text is not None else {})}
        return web.Response(status=reply.status, text=text, headers=headers)

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        if method == "POST" and path == f"/{TENANT}/oauth2/v2.0/token":
            return "token", {}
        if path == "/msi/token":
            return "msi", {}
        if path.startswith("/upload/"):
            return ("upload" if method == "PUT" else "upload-status"), {"session": path.rsplit("/", 1)[1]}
        for route_method, pattern, kind in _GRAPH_ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                return kind, match.groupdict()
        return "unknown", {}

    def _usual(self, kind: str, request: web.Request, params: dict[str, str], body: bytes) -> Reply:
        if kind == "token":
            return self._token(body)
        if kind == "msi":
            return self._managed_identity(request)
        if kind in ("upload", "upload-status"):
            return self._upload(kind, request, params["session"], body)
        if kind == "unknown":
            return Reply(404, graph_error("UnknownPath", f"the stand-in does not serve {request.path}"))
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self._tokens:
            return Reply(401, graph_error("InvalidAuthenticationToken", "Access token is empty or invalid."))
        mailbox = params["user"]
        if kind == "sendMail":
            message = _field(json.loads(body), "message")  # action parameters are case-insensitive
            attachments = [(a["name"], base64.b64decode(a["contentBytes"])) for a in message.get("attachments", [])]
            self.sent.append(Sent(mailbox, message, attachments, "sendMail"))
            return Reply(202, headers={"request-id": f"req-{next(self._ids)}"})
        if kind == "draft":
            message = json.loads(body)
            draft_id = f"draft-{next(self._ids)}"
            attachments = [(a["name"], base64.b64decode(a["contentBytes"])) for a in message.get("attachments", [])]
            self._drafts[draft_id] = _Draft(mailbox, message, attachments)
            return Reply(201, {**message, "id": draft_id, "isDraft": True})
        draft = self._drafts.get(params["id"])
        if draft is None:
            return Reply(404, graph_error("ErrorItemNotFound", "The specified object was not found in the store."))
        if kind == "attach":
            attachment = json.loads(body)
            draft.attachments.append((attachment["name"], base64.b64decode(attachment["contentBytes"])))
            return Reply(201, {**attachment, "id": f"att-{next(self._ids)}"})
        if kind == "createUploadSession":
            item = _field(json.loads(body), "attachmentItem")
            session = f"session-{next(self._ids)}"
            self._uploads[session] = _Upload(draft, item["name"], int(item["size"]))
            return Reply(201, self._session_document(session, 0, with_url=True))
        if kind == "send":
            del self._drafts[params["id"]]
            self.sent.append(Sent(mailbox, draft.message, draft.attachments, "draft"))
            return Reply(202, headers={"request-id": f"req-{next(self._ids)}"})
        del self._drafts[params["id"]]  # delete
        return Reply(204)

    def _token(self, body: bytes) -> Reply:
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        if form.get("client_secret") != self.client_secret:
            return Reply(
                401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}
            )
        return Reply(200, {"token_type": "Bearer", "expires_in": 3600, "access_token": self._issue()})

    def _managed_identity(self, request: web.Request) -> Reply:
        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return Reply(401, {"error": "unauthorized"})
        resource = request.query.get("resource", "")
        return Reply(
            200,
            {
                "access_token": self._issue(),
                "expires_on": str(int(time.time()) + 3600),
                "resource": resource,
                "token_type": "Bearer",
            },
        )

    def _issue(self) -> str:
        token = f"token-{secrets.token_urlsafe(8)}"
        self._tokens.add(token)
        return token

    def _upload(self, kind: str, request: web.Request, session: str, body: bytes) -> Reply:
        upload = self._uploads.get(session)
        if upload is None:
            return Reply(404, graph_error("ErrorItemNotFound", "no such upload session"))
        if kind == "upload-status":
            return Reply(200, self._session_document(session, len(upload.received)))
        if "authorization" in {k.lower() for k in request.headers}:
            return Reply(400, graph_error("InvalidRequest", "the upload URL is pre-authenticated: no Authorization"))
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", request.headers.get("Content-Range", ""))
        if match is None or int(match[3]) != upload.size or int(match[2]) - int(match[1]) + 1 != len(body):
            return Reply(400, graph_error("InvalidContentRange", "Content-Range does not match the body"))
        if int(match[1]) != len(upload.received) or len(body) > 4 * 1024 * 1024:
            return Reply(416, graph_error("InvalidRange", f"expected a chunk from byte {len(upload.received)}"))
        upload.received.extend(body)
        if len(upload.received) < upload.size:
            return Reply(200, self._session_document(session, len(upload.received)))
        upload.draft.attachments.append((upload.name, bytes(upload.received)))
        del self._uploads[session]
        return Reply(201, headers={"Location": f"{self.base_url}/attachments/{session}"})

    def _session_document(self, session: str, offset: int, *, with_url: bool = False) -> dict[str, Any]:
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + _UPLOAD_SESSION_SECONDS))
        document: dict[str, Any] = {"expirationDateTime": expires, "nextExpectedRanges": [str(offset)]}
        if with_url:
            document["uploadUrl"] = f"http://{HOST}:{self.port}/upload/{session}"
        return document


def _field(document: dict[str, Any], name: str) -> Any:
    return next(value for key, value in document.items() if key.lower() == name.lower())


def graph_settings(stand_in: GraphStandIn, *, credential: str = "client-secret") -> dict[str, str]:
    """The app settings that point Mailroom's Exchange transport at the stand-in."""
    return {
        "MAILROOM_GRAPH_CREDENTIAL": credential,
        "MAILROOM_GRAPH_TENANT_ID": TENANT,
        "MAILROOM_GRAPH_CLIENT_ID": CLIENT_ID,
        "MAILROOM_GRAPH_BASE_URL": stand_in.base_url,
        "MAILROOM_GRAPH_AUTHORITY_HOST": stand_in.authority,
    }
