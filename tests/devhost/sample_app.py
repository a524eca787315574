"""A small FunctionApp with the HTTP shapes Mailroom uses, for the devhost tests.

Functions answer with what they received, so a test can assert what the host handed over.
`email_by_id` sorts before `email_status` on purpose: it shows the runtime's route order.
"""

from __future__ import annotations

import base64
import json
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def _echo(req: func.HttpRequest, **extra: object) -> func.HttpResponse:
    received = {
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "headers": dict(req.headers),
        "body": req.get_body().decode("utf-8", "replace"),
        "body_length": len(req.get_body()),
        **extra,
    }
    return func.HttpResponse(json.dumps(received), mimetype="application/json")


@app.route(route="items/{id:int}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, function="item_by_id")


@app.route(route="items/{name:alpha}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, function="item_by_name")


@app.route(route="reports/{year:int?}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def report(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, function="report")


@app.route(route="files/{*path}", auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, function="files")


@app.route(route="emails/{id}", methods=["GET"])
def email_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, function="email_by_id")


@app.route(route="emails/status", methods=["GET"])
def email_status(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, function="email_status")


@app.route(route="whoami", methods=["GET"])
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    return _principal(req)


@app.route(route="public/whoami", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def public_whoami(req: func.HttpRequest) -> func.HttpResponse:
    return _principal(req)


@app.route(route="admin/settings", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_settings(req: func.HttpRequest) -> func.HttpResponse:
    return _principal(req)


def _principal(req: func.HttpRequest) -> func.HttpResponse:
    encoded = req.headers.get("x-ms-client-principal")
    principal = json.loads(base64.b64decode(encoded)) if encoded else None
    answer = {
        "principal": principal,
        "name": req.headers.get("x-ms-client-principal-name"),
        "idp": req.headers.get("x-ms-client-principal-idp"),
        "auth_enabled": os.environ.get("WEBSITE_AUTH_ENABLED"),
    }
    return func.HttpResponse(json.dumps(answer), mimetype="application/json")


@app.route(route="created", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def created(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        "<p>made</p>",
        status_code=201,
        headers={"Location": "/api/items/7", "Set-Cookie": "session=abc; Path=/"},
        mimetype="text/html",
        charset="utf-8",
    )


@app.route(route="plain", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def plain(req: func.HttpRequest) -> str:
    return "just text"


@app.route(route="context", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"function": context.function_name, "id": context.invocation_id}),
        mimetype="application/json",
    )


@app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret detail from deep inside")
