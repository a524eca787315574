"""GET /api/openapi.json: the API description, open to anyone."""

from __future__ import annotations

import azure.functions as func

from functions.http import json_response
from functions.openapi_document import DOCUMENT

bp = func.Blueprint()


@bp.function_name("get_openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(DOCUMENT)
