"""Send requests and one email's history record."""

from __future__ import annotations

import azure.functions as func

from functions.http import handle, json_body, json_response
from shared.bootstrap import Services
from shared.domain.access import Permission
from shared.errors import NotFound

bp = func.Blueprint()


@bp.function_name("send_email")
@bp.route(route="emails", methods=["POST"])
async def send_email(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        accepted = await app.sending.accept(json_body(req))
        return json_response(
            {"id": accepted.id, "status": accepted.status},
            202,
            headers={"Location": f"/api/emails/{accepted.id}"},
        )

    return await handle(req, Permission.SEND, action)


@bp.function_name("get_email")
@bp.route(route="emails/{id}", methods=["GET"])
async def get_email(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        email_id = req.route_params["id"]
        found = await app.history.get(email_id)
        if found is None:
            raise NotFound(f"There is no email with id {email_id!r}", code="EmailNotFound")
        return json_response(found[0].public())

    return await handle(req, Permission.READ_EMAIL, action)
