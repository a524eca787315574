"""Users and their email address, the default *send from* (administrator)."""

from __future__ import annotations

import azure.functions as func

from functions.http import handle, handle_with_roles, json_body, json_response
from shared.bootstrap import Services
from shared.domain.access import Permission, Role

bp = func.Blueprint()


@bp.function_name("get_user")
@bp.route(route="users/{userId}", methods=["GET"])
async def get_user(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        user = await app.configuration.user(req.route_params["userId"])
        return json_response(user.public())

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("put_user")
@bp.route(route="users/{userId}", methods=["PUT"])
async def put_user(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        user, created = await app.configuration.put_user(req.route_params["userId"], json_body(req))
        return json_response(user, 201 if created else 200)

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("delete_user")
@bp.route(route="users/{userId}", methods=["DELETE"])
async def delete_user(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        await app.configuration.delete_user(req.route_params["userId"])
        return func.HttpResponse(status_code=204)

    return await handle(req, Permission.CONFIGURE, action)


@bp.function_name("get_user_options")
@bp.route(route="users/{userId}/options", methods=["GET"])
async def get_user_options(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services) -> func.HttpResponse:
        return json_response(await app.configuration.user_options(req.route_params["userId"]))

    return await handle(req, Permission.USER_CHOICES, action)


@bp.function_name("patch_user_options")
@bp.route(route="users/{userId}/options", methods=["PATCH"])
async def patch_user_options(req: func.HttpRequest) -> func.HttpResponse:
    async def action(app: Services, roles: frozenset[Role]) -> func.HttpResponse:
        options = await app.configuration.patch_user_options(
            req.route_params["userId"], json_body(req), may_set_sender=Role.ADMIN in roles
        )
        return json_response(options)

    return await handle_with_roles(req, Permission.USER_CHOICES, action)
