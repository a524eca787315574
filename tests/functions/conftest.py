"""Calls the app's own decorated functions with real azure.functions request objects."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from shared import bootstrap
from tests.support.app_index import indexed_functions

ADMIN = "Mail.Admin"
APP = "Mail.Send"


def user_function(name: str) -> Callable[..., Awaitable[Any]]:
    for function in indexed_functions():
        if function.get_function_name() == name:
            return function.get_user_function()
    raise LookupError(name)


def principal(*roles: str) -> str:
    claims = [{"typ": "roles", "val": role} for role in roles]
    document = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims}
    return base64.b64encode(json.dumps(document).encode()).decode()


def request(
    method: str,
    url: str,
    *,
    roles: tuple[str, ...] | None = (ADMIN,),
    body: Any = None,
    raw: bytes | None = None,
    route_params: dict[str, str] | None = None,
) -> func.HttpRequest:
    headers = {"content-type": "application/json"}
    if roles is not None:
        headers["x-ms-client-principal"] = principal(*roles)
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return func.HttpRequest(
        method, f"http://localhost/api/{url}", headers=headers, route_params=route_params or {}, body=data
    )


async def call(name: str, req: func.HttpRequest) -> tuple[int, Any]:
    response = await user_function(name)(req)
    body = response.get_body()
    return response.status_code, json.loads(body) if body else None


@pytest.fixture
async def app_env(storage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("AzureWebJobsStorage", storage)
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    monkeypatch.setenv("MAILROOM_SECRETS_FILE", str(tmp_path / "secrets.json"))
    monkeypatch.setenv("MAILROOM_PARAMETERS_CACHE_SECONDS", "0")
    await bootstrap.reset()
    yield storage
    await bootstrap.reset()
