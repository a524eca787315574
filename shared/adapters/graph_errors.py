"""Microsoft Graph's, azure-identity's and httpx's errors translated into domain facts, in one place.

    ODataError / APIError (Graph answered)       ──► GraphFailure(status, code, Retry-After) ─┐
    HTTPStatusError (an upload session answered) ──► GraphFailure(status, code) ──────────────┤
    azure-identity, the secret store             ──► GraphFailure(fault=sign-in ...) ─────────┼─► classify()
    httpx connect errors, unfinished writes      ──► GraphFailure(fault, request not left) ───┤
    httpx read timeouts, lost answers            ──► GraphFailure(fault, request left) ───────┘

Whether the request had left decides between transient and unconfirmed for the sending steps:
a connection that failed to open or a body not fully written cannot have sent anything, while
no answer to a request that was fully written may hide a sent email.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime

import httpx
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
from kiota_abstractions.api_error import APIError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from shared.adapters.graph_credentials import SignInUnavailable
from shared.adapters.graph_uploads import UploadIncomplete
from shared.domain.addresses import Mailbox
from shared.domain.graph_failures import GraphFailure, GraphFault, GraphStep, retry_after_seconds


class GraphStepFailed(Exception):
    """Carries a failure's facts out of a step of the send."""

    def __init__(self, failure: GraphFailure) -> None:
        super().__init__(failure.step)
        self.failure = failure


_TRANSLATED = (
    APIError,
    httpx.HTTPError,
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
    SignInUnavailable,
    UploadIncomplete,
)


@contextlib.contextmanager
def graph_step(clock: Callable[[], datetime], step: GraphStep, mailbox: str, send_as: Mailbox | None) -> Iterator[None]:
    """Turns any error of Graph, the sign-in or the network raised inside into a `GraphStepFailed`."""
    try:
        yield
    except _TRANSLATED as error:
        failure = failure_of(error, step, mailbox, clock())
        raise GraphStepFailed(dataclasses.replace(failure, send_as=send_as.address if send_as else None)) from error


def failure_of(error: BaseException, step: GraphStep, mailbox: str, now: datetime) -> GraphFailure:
    """The one place where the SDK's, azure-identity's and httpx's errors become domain facts."""
    if isinstance(error, ODataError | APIError):
        headers = error.response_headers or {}
        main = error.error if isinstance(error, ODataError) else None
        return GraphFailure(
            step,
            mailbox,
            error.response_status_code or 0,
            error_code=(main.code if main else None) or "",
            detail=(main.message if main else None) or str(error.message or ""),
            retry_after_seconds=retry_after_seconds(headers.get("Retry-After"), now),
        )
    if isinstance(error, httpx.HTTPStatusError):
        response = error.response
        code, detail = _error_body(response)
        return GraphFailure(
            step,
            mailbox,
            response.status_code,
            error_code=code,
            detail=detail,
            retry_after_seconds=retry_after_seconds(response.headers.get("Retry-After"), now),
        )
    if isinstance(error, SignInUnavailable):
        return GraphFailure(GraphStep.SIGN_IN, mailbox, fault=error.fault, detail=error.detail)
    if isinstance(error, ClientAuthenticationError):
        status = getattr(error.response, "status_code", None)
        fault = GraphFault.UNREACHABLE if status and (status >= 500 or status == 429) else GraphFault.SIGN_IN_REFUSED
        return GraphFailure(GraphStep.SIGN_IN, mailbox, fault=fault, detail=_first_line(error.message))
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return GraphFailure(GraphStep.SIGN_IN, mailbox, fault=GraphFault.UNREACHABLE, detail=_first_line(str(error)))
    if isinstance(error, UploadIncomplete):
        return GraphFailure(step, mailbox, fault=GraphFault.UPLOAD_INCOMPLETE, detail=str(error))
    detail = f"{type(error).__name__}: {error}".rstrip(": ")
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return GraphFailure(step, mailbox, fault=GraphFault.UNREACHABLE, detail=detail)
    if isinstance(error, httpx.WriteTimeout | httpx.WriteError):  # the request did not all leave
        fault = GraphFault.TIMEOUT if isinstance(error, httpx.WriteTimeout) else GraphFault.CONNECTION_LOST
        return GraphFailure(step, mailbox, fault=fault, detail=detail)
    fault = GraphFault.TIMEOUT if isinstance(error, httpx.TimeoutException) else GraphFault.CONNECTION_LOST
    return GraphFailure(step, mailbox, fault=fault, detail=detail, request_left=True)


def _error_body(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
        return str(error.get("code") or ""), str(error.get("message") or "")
    except (ValueError, AttributeError):
        return "", response.text[:300]


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:300] if (text or "").strip() else ""
