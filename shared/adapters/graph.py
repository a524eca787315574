"""The Exchange adapter: sends an `OutgoingEmail` as a mailbox through Microsoft Graph (msgraph-sdk).

It never raises for Graph trouble: each request runs inside `graph_step`, which translates every
SDK, azure-identity and httpx error in one place (`shared.adapters.graph_errors`) into the facts
that `shared.domain.graph_failures` words for the user.

An email whose request fits in 4 MB goes in one `sendMail`; a larger one through a draft, its
attachments (small ones in the draft or posted whole, large ones through upload sessions), then
`send`. The SDK's retry middleware is left out: a 429 or 5xx comes back to the dispatcher, which
waits as Graph asked (and holds the mailbox's other email) instead of blocking a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import RetryHandler
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.users.item.messages.item.attachments.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
    CreateUploadSessionPostRequestBody as UploadSessionRequest,
)
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph_core import GraphClientFactory
from msgraph_core.authentication import AzureIdentityAuthenticationProvider
from msgraph_core.middleware import GraphTelemetryHandler

from shared.adapters import graph_uploads
from shared.adapters.graph_credentials import SignInUnavailable, client_secret, open_credential
from shared.adapters.graph_errors import GraphStepFailed, graph_step
from shared.adapters.graph_messages import (
    REQUEST_LIMIT_BYTES,
    file_attachment,
    graph_message,
    plan_attachments,
    request_bytes,
    upload_item,
)
from shared.domain.addresses import Mailbox
from shared.domain.delivery import DeliveryResult, RecipientResult, RecipientStatus
from shared.domain.graph_failures import GraphFailure, GraphFault, GraphStep, classify
from shared.domain.mime_reading import ReadMessage, read_mime
from shared.domain.outgoing import OutgoingEmail
from shared.ports import SecretStore
from shared.settings import Settings


class GraphTransport:
    """Sends as any mailbox of the tenant; one GraphServiceClient per worker, made on first use."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        *,
        identity_options: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`identity_options` go to azure-identity's credential (tests pass `connection_verify`)."""
        self._settings = settings
        self._secrets = secrets
        self._identity_options = identity_options
        self._clock = clock
        self._lock = asyncio.Lock()
        self._credential: AsyncTokenCredential | None = None
        self._secret: str | None = None  # the client secret the credential holds, to notice a rotation
        self._client: GraphServiceClient | None = None
        timeout = httpx.Timeout(settings.graph_timeout_seconds, connect=min(settings.graph_timeout_seconds, 10.0))
        tls = ssl.create_default_context()  # the system's trust store, as the SMTP adapter uses
        # the SDK's default middleware without its RetryHandler, plus Graph's telemetry (client-request-id);
        # headers are inspected only where a request asks (the send's request-id), never kept otherwise
        quiet = HeadersInspectionHandlerOption(inspect_request_headers=False, inspect_response_headers=False)
        defaults = KiotaClientFactory.get_default_middleware({quiet.get_key(): quiet})
        middleware = [m for m in defaults if not isinstance(m, RetryHandler)]
        self._http = GraphClientFactory.create_with_custom_middleware(
            [*middleware, GraphTelemetryHandler()], client=httpx.AsyncClient(timeout=timeout, verify=tls, http2=True)
        )
        self._uploads = httpx.AsyncClient(timeout=timeout, verify=tls)  # pre-authenticated URLs: no token

    async def send(self, email: OutgoingEmail, *, mailbox: str) -> DeliveryResult:
        """Sends one email as `mailbox`; every failure comes back as the result, not raised."""
        read = read_mime(email.mime)
        send_as = read.from_ if read.from_ and read.from_.address.lower() != mailbox.lower() else None
        try:
            try:
                answer = await self._send(await self._graph(mailbox), read, email, mailbox, send_as)
            except GraphStepFailed as failed:
                if failed.failure.fault is not GraphFault.SIGN_IN_REFUSED or not await self._rotated():
                    raise
                # the client secret changed since this worker read it: once more, with the new one
                answer = await self._send(await self._graph(mailbox), read, email, mailbox, send_as)
        except GraphStepFailed as failed:
            return classify(failed.failure)
        accepted = tuple(RecipientResult(a, RecipientStatus.ACCEPTED, answer) for a in email.recipients)
        return DeliveryResult.sent(accepted, answer)

    async def aclose(self) -> None:
        await self._forget()
        await self._http.aclose()
        await self._uploads.aclose()

    async def _send(
        self, client: GraphServiceClient, read: ReadMessage, email: OutgoingEmail, mailbox: str, send_as: Mailbox | None
    ) -> str:
        user = client.users.by_user_id(mailbox)
        bcc = read.blind_copies(email.recipients)
        if request_bytes(read, bcc, read.attachments) <= REQUEST_LIMIT_BYTES:
            body = SendMailPostRequestBody(
                message=graph_message(read, bcc=bcc, send_as=send_as, attachments=read.attachments),
                save_to_sent_items=True,
            )
            headers = HeadersInspectionHandlerOption(inspect_request_headers=False, inspect_response_headers=True)
            with graph_step(self._clock, GraphStep.SEND_MAIL, mailbox, send_as):
                await user.send_mail.post(body, request_configuration=RequestConfiguration(options=[headers]))
            return _accepted(headers)
        return await self._send_large(user, read, bcc, mailbox, send_as)

    async def _send_large(
        self,
        user: UserItemRequestBuilder,
        read: ReadMessage,
        bcc: tuple[Mailbox, ...],
        mailbox: str,
        send_as: Mailbox | None,
    ) -> str:
        """Draft, attachments, send: each request under 4 MB. Needs Mail.ReadWrite."""
        in_draft, posted, uploaded = plan_attachments(read, bcc)
        with graph_step(self._clock, GraphStep.CREATE_DRAFT, mailbox, send_as):
            draft = await user.messages.post(graph_message(read, bcc=bcc, send_as=send_as, attachments=in_draft))
        if draft is None or not draft.id:
            failure = GraphFailure(GraphStep.CREATE_DRAFT, mailbox, 502, detail="the draft came back without an id")
            raise GraphStepFailed(failure)
        message = user.messages.by_message_id(draft.id)
        try:
            with graph_step(self._clock, GraphStep.ATTACH, mailbox, send_as):
                for attachment in posted:
                    await message.attachments.post(file_attachment(attachment))
                for attachment in uploaded:
                    request = UploadSessionRequest(attachment_item=upload_item(attachment))
                    session = await message.attachments.create_upload_session.post(request)
                    if session is None or not session.upload_url:
                        raise graph_uploads.UploadIncomplete("the upload session came back without an upload URL")
                    await graph_uploads.upload(
                        self._uploads, session.upload_url, attachment.content, session.next_expected_ranges
                    )
            headers = HeadersInspectionHandlerOption(inspect_request_headers=False, inspect_response_headers=True)
            with graph_step(self._clock, GraphStep.SEND_DRAFT, mailbox, send_as):
                await message.send.post(request_configuration=RequestConfiguration(options=[headers]))
        except GraphStepFailed as failed:
            if not (failed.failure.step.sends and failed.failure.request_left):
                with contextlib.suppress(Exception):  # best effort: a stray draft is harmless
                    await message.delete()
            raise
        return _accepted(headers)

    async def _graph(self, mailbox: str) -> GraphServiceClient:
        async with self._lock:
            if self._client is None:
                with graph_step(self._clock, GraphStep.SIGN_IN, mailbox, None):
                    opened = await open_credential(self._settings, self._secrets, self._identity_options)
                self._credential, self._secret = opened
                self._client = self._graph_client(self._credential)
            return self._client

    def _graph_client(self, credential: AsyncTokenCredential) -> GraphServiceClient:
        base = urlparse(self._settings.graph_base_url)
        scope_host = base.hostname if base.scheme == "https" else "graph.microsoft.com"
        auth = AzureIdentityAuthenticationProvider(
            credential, scopes=[f"https://{scope_host}/.default"], allowed_hosts=[base.hostname or ""]
        )
        adapter = GraphRequestAdapter(auth, client=self._http)
        adapter.base_url = self._settings.graph_base_url
        return GraphServiceClient(request_adapter=adapter)

    async def _rotated(self) -> bool:
        """After a refused sign-in: whether the store now holds another client secret (then reconnect)."""
        if self._secret is None:
            return False
        self._secrets.forget(self._settings.graph_client_secret_name)
        try:
            current = await client_secret(self._settings, self._secrets)
        except SignInUnavailable:
            return False
        if current == self._secret:
            return False
        await self._forget()
        return True

    async def _forget(self) -> None:
        async with self._lock:
            credential, self._credential, self._client, self._secret = self._credential, None, None, None
        if credential is not None:
            await credential.close()


def _accepted(headers: HeadersInspectionHandlerOption) -> str:
    request_id = next(iter(headers.response_headers.get("request-id")), "")
    return "202 Accepted" + (f" (request-id {request_id})" if request_id else "")
