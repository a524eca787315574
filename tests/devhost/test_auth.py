"""The host plays App Service Authentication and function keys in front of the app."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.devhost import sample_app
from tests.devhost.conftest import ADMIN_KEY, APP_KEY, running

FORGED = base64.b64encode(
    json.dumps({"auth_typ": "aad", "claims": [{"typ": "roles", "val": "Mail.Admin"}]}).encode()
).decode()


@pytest.fixture
async def get(tmp_path: Path, keys: None) -> AsyncIterator[Any]:
    async with running(sample_app.app, tmp_path) as host, aiohttp.ClientSession() as session:

        async def call(path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
            async with session.get(host.base_url + path, headers=headers or {}) as response:
                body = await response.read()
                return response.status, json.loads(body) if response.status == 200 else body

        yield call


def roles(answer: dict[str, Any]) -> list[str]:
    claims = answer["principal"]["claims"]
    return [claim["val"] for claim in claims if claim["typ"] == "roles"]


async def test_function_route_without_a_key_is_401_before_the_function_runs(get: Any) -> None:
    assert await get("/api/whoami") == (401, b"")


async def test_wrong_key_is_401(get: Any) -> None:
    status, _ = await get("/api/whoami", {"x-functions-key": "guess"})
    assert status == 401


async def test_admin_key_becomes_a_mail_admin_principal(get: Any) -> None:
    status, answer = await get("/api/whoami", {"x-functions-key": ADMIN_KEY})
    assert status == 200
    assert roles(answer) == ["Mail.Admin"]
    assert answer["principal"]["auth_typ"] == "key"
    assert (answer["name"], answer["idp"]) == ("admin", "key")
    assert answer["auth_enabled"] == "True"


async def test_app_key_becomes_a_mail_send_principal(get: Any) -> None:
    status, answer = await get("/api/whoami", {"x-functions-key": APP_KEY})
    assert status == 200
    assert roles(answer) == ["Mail.Send"]
    assert answer["name"] == "application"


async def test_key_in_the_code_query_parameter_works(get: Any) -> None:
    status, answer = await get(f"/api/whoami?code={APP_KEY}")
    assert status == 200 and roles(answer) == ["Mail.Send"]


async def test_forged_principal_headers_never_reach_the_function(get: Any) -> None:
    forged = {
        "X-MS-CLIENT-PRINCIPAL": FORGED,
        "X-MS-CLIENT-PRINCIPAL-NAME": "mallory",
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    }
    status, answer = await get("/api/public/whoami", forged)
    assert status == 200
    assert (answer["principal"], answer["name"], answer["idp"]) == (None, None, None)
    status, answer = await get("/api/whoami", {**forged, "x-functions-key": APP_KEY})
    assert roles(answer) == ["Mail.Send"] and answer["name"] == "application"


async def test_anonymous_route_is_open_and_a_key_still_identifies_the_caller(get: Any) -> None:
    status, answer = await get("/api/public/whoami")
    assert status == 200 and answer["principal"] is None
    status, answer = await get("/api/public/whoami", {"x-functions-key": ADMIN_KEY})
    assert roles(answer) == ["Mail.Admin"]
    status, answer = await get("/api/public/whoami", {"x-functions-key": "wrong"})
    assert status == 200 and answer["principal"] is None


async def test_admin_level_route_takes_only_the_admin_key(get: Any) -> None:
    assert (await get("/api/admin/settings", {"x-functions-key": APP_KEY}))[0] == 401
    status, answer = await get("/api/admin/settings", {"x-functions-key": ADMIN_KEY})
    assert status == 200 and roles(answer) == ["Mail.Admin"]


async def test_unknown_path_is_404_even_without_a_key(get: Any) -> None:
    assert (await get("/api/no/such/route"))[0] == 404


async def test_auth_enabled_setting_is_restored_when_the_host_stops(
    tmp_path: Path, keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    async with running(sample_app.app, tmp_path):
        assert os.environ["WEBSITE_AUTH_ENABLED"] == "True"
    assert "WEBSITE_AUTH_ENABLED" not in os.environ
