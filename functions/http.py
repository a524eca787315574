"""What every HTTP function shares: who the caller is, the JSON in and out, and the one place
where a domain error or an outcome becomes a response."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

from shared.bootstrap import Services, services
from shared.domain.access import Permission, Role, authorize
from shared.errors import (
    CannotHonour,
    Conflict,
    DependencyUnavailable,
    InvalidInput,
    MailroomError,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    TooLarge,
)

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    NotPermitted: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    CannotHonour: 422,
    DependencyUnavailable: 503,
}
ROLE_CLAIMS = {"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}


def caller_roles(req: func.HttpRequest, *, platform_authenticates: bool) -> list[str] | None:
    """Roles from App Service Authentication's client principal; None when there is none.

    The header is trusted only where the platform says authentication is on: there it strips
    any copy a client sends and writes its own.
    """
    header = req.headers.get("x-ms-client-principal")
    if not header or not platform_authenticates:
        return None
    try:
        principal = json.loads(base64.b64decode(header, validate=True))
        role_type = principal.get("role_typ", "roles")
        return [
            str(claim["val"]) for claim in principal.get("claims", []) if claim.get("typ") in ROLE_CLAIMS | {role_type}
        ]
    except (binascii.Error, ValueError, AttributeError, KeyError, TypeError):
        return None


def json_body(req: func.HttpRequest) -> Any:
    raw = req.get_body()
    if not raw.strip():
        raise InvalidInput("The request needs a JSON body", code="InvalidJson", field="body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"The body is not valid JSON: {error}", code="InvalidJson", field="body") from None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(data, ensure_ascii=False),
        status_code=status,
        mimetype="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(error: MailroomError) -> func.HttpResponse:
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    if error.details is not None:
        body["details"] = error.details
    headers = {"WWW-Authenticate": 'Key realm="mailroom"'} if status == 401 else None
    return json_response({"error": body}, status, headers)


async def handle(
    req: func.HttpRequest,
    permission: Permission,
    action: Callable[[Services], Awaitable[func.HttpResponse]],
) -> func.HttpResponse:
    """Authenticate, authorize, run the action; map every failure to a clear response."""
    return await handle_with_roles(req, permission, lambda app, _roles: action(app))


async def handle_with_roles(
    req: func.HttpRequest,
    permission: Permission,
    action: Callable[[Services, frozenset[Role]], Awaitable[func.HttpResponse]],
) -> func.HttpResponse:
    """As `handle`, for the few actions whose outcome depends on the caller's role."""
    try:
        app = services()
        roles = authorize(caller_roles(req, platform_authenticates=app.settings.auth_enabled), permission)
        return await action(app, roles)
    except MailroomError as error:
        return error_response(error)
    except Exception:
        log.exception("unexpected error in %s %s", req.method, req.url)
        return json_response(
            {
                "error": {
                    "code": "InternalError",
                    "message": "Something went wrong on our side; it is logged. Try again later.",
                }
            },
            500,
        )
