"""The Email history for administrators: the list, the Batch email sending status and resend.

Route order matters: the Functions host tries HTTP routes in function-name order and takes the
first match (it does not prefer a literal segment as ASP.NET would), so `emails/{id}` of
`get_email` would answer `GET /emails/status` with a 404. The status function is therefore named
`get_batch_status`, which sorts before `get_email`; tests/functions/test_history_http.py
checks it through devhost's route table, which orders routes as Azure does.
"""

from __future__ import annotations

import azure.functions as func

from functions.http import handle, json_body, json_response
from shared.bootstrap import Services
from shared.domain.access import Permission

bp = func.Blueprint()


@bp.function_name("list_emails")
@bp.route(route="emails", methods=["GET"])
async def list_emails(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        return json_response(await app.email_history.search(dict(req.params)))

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("get_batch_status")
@bp.route(route="emails/status", methods=["GET"])
async def get_batch_status(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        return json_response(await app.batch_status.status())

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("resend_email")
@bp.route(route="emails/{id}/resend", methods=["POST"])
async def resend_email(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        email_id = req.route_params["id"]
        queued = await app.resending.resend(email_id)
        return json_response(queued, 202, headers={"Location": f"/api/emails/{email_id}"})

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("resend_emails")
@bp.route(route="emails/resend", methods=["POST"])
async def resend_emails(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        return json_response(await app.resending.resend_matching(json_body(req)))

    return await handle(req, Permission.CONFIGURE, action)
