"""Send requests and one email's history record."""

from __future__ import annotations

from urllib.parse import quote

import azure.functions as func

from functions.http import handle, json_body, json_response
from shared.bootstrap import Services
from shared.domain.access import Permission
from shared.errors import NotFound
from shared.services.sending import GeneratedEml

bp = func.Blueprint()


@bp.function_name("send_email")
@bp.route(route="emails", methods=["POST"])
async def send_email(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        outcome = await app.sending.accept(json_body(req))
        if isinstance(outcome, GeneratedEml):
            return eml_response(outcome)
        return json_response(
            {"id": outcome.id, "status": outcome.status}, 202, headers={"Location": f"/api/emails/{outcome.id}"}
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


def eml_response(eml: GeneratedEml) -> func.HttpResponse:
    """The draft as a download the user's mail app opens (RFC 6266 file name, UTF-8 safe)."""
    ascii_name = eml.filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(eml.filename)}"
    return func.HttpResponse(
        eml.content,
        status_code=200,
        mimetype="message/rfc822",
        headers={"Content-Disposition": disposition, "X-Mailroom-Id": eml.id},
    )
