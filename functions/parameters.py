"""Email parameters and the SMTP password (administrator)."""

from __future__ import annotations

import azure.functions as func

from functions.http import handle, json_body, json_response
from shared.bootstrap import Services
from shared.domain.access import Permission

bp = func.Blueprint()


@bp.function_name("get_email_parameters")
@bp.route(route="email/parameters", methods=["GET"])
async def get_email_parameters(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        return json_response(await app.configuration.show_parameters())

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("patch_email_parameters")
@bp.route(route="email/parameters", methods=["PATCH"])
async def patch_email_parameters(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        return json_response(await app.configuration.patch_parameters(json_body(req)))

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("put_smtp_password")
@bp.route(route="email/parameters/smtp-password", methods=["PUT"])
async def put_smtp_password(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        await app.configuration.set_smtp_password(json_body(req))
        return func.HttpResponse(status_code=204)

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("delete_smtp_password")
@bp.route(route="email/parameters/smtp-password", methods=["DELETE"])
async def delete_smtp_password(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        await app.configuration.clear_smtp_password()
        return func.HttpResponse(status_code=204)

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("send_test_email")
@bp.route(route="email/test", methods=["POST"])
async def send_test_email(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        email_id = await app.sending.record_test_email(json_body(req))
        record = await app.dispatching.send_now(email_id)
        return json_response(record.public())

    return await handle(req, Permission.CONFIGURE, action)
