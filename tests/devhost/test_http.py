"""HTTP triggers through a running host: routing, the request a function receives, and the
response the caller gets back."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from tests.devhost import sample_app
from tests.devhost.conftest import APP_KEY, running, write_host_json


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Call = Callable[..., Awaitable[Answer]]


@asynccontextmanager
async def _serve(app_dir: Path) -> AsyncIterator[Call]:
    async with running(sample_app.app, app_dir) as host, aiohttp.ClientSession() as session:

        async def call(method: str, path: str, **options: Any) -> Answer:
            async with session.request(method, host.base_url + path, **options) as response:
                return Answer(response.status, response.headers, await response.read())

        yield call


@pytest.fixture
async def call(tmp_path: Path, keys: None) -> AsyncIterator[Call]:
    async with _serve(tmp_path) as serve:
        yield serve


async def test_function_receives_route_query_headers_and_body(call: Call) -> None:
    answer = await call("POST", "/api/items/42?status=Failed&top=5", headers={"X-Trace": "abc"}, data=b'{"a": 1}')
    assert answer.status == 200
    received = answer.json()
    assert received["function"] == "item_by_id"
    assert received["method"] == "POST"
    assert received["url"].endswith("/api/items/42?status=Failed&top=5")
    assert received["route_params"] == {"id": "42"}
    assert received["params"] == {"status": "Failed", "top": "5"}
    assert received["headers"]["x-trace"] == "abc"
    assert received["body"] == '{"a": 1}'


async def test_constraint_picks_the_route_and_literals_ignore_case(call: Call) -> None:
    assert (await call("GET", "/API/Items/7")).json()["function"] == "item_by_id"
    assert (await call("GET", "/api/items/widgets")).json()["route_params"] == {"name": "widgets"}
    assert (await call("GET", "/api/items/w1dget5")).status == 404


async def test_optional_and_catch_all_parameters(call: Call) -> None:
    assert (await call("GET", "/api/reports")).json()["route_params"] == {}
    assert (await call("GET", "/api/reports/2024")).json()["route_params"] == {"year": "2024"}
    assert (await call("GET", "/api/reports/last")).status == 404
    files = (await call("PUT", "/api/files/a/b/c.txt")).json()
    assert files["route_params"] == {"path": "a/b/c.txt"}


async def test_unknown_path_is_404_and_wrong_method_is_405(call: Call) -> None:
    assert (await call("GET", "/api/nowhere")).status == 404
    assert (await call("GET", "/items/7")).status == 404
    refused = await call("DELETE", "/api/items/7")
    assert refused.status == 405
    assert refused.headers["Allow"] == "GET, POST"


async def test_route_order_follows_function_names_as_on_azure(call: Call) -> None:
    answer = await call("GET", "/api/emails/status", headers={"x-functions-key": APP_KEY})
    assert answer.json()["function"] == "email_by_id"


async def test_shadowed_route_is_reported_at_start_up(
    tmp_path: Path, keys: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devhost")
    async with running(sample_app.app, tmp_path):
        pass
    assert "Route /api/emails/status of 'email_status' is unreachable" in caplog.text
    assert "email_by_id" in caplog.text
    assert "http://127.0.0.1:" in caplog.text


async def test_response_status_headers_cookies_and_content_type(call: Call) -> None:
    answer = await call("POST", "/api/created")
    assert answer.status == 201
    assert answer.headers["Location"] == "/api/items/7"
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Set-Cookie"].startswith("session=abc")
    assert answer.body == b"<p>made</p>"


async def test_a_returned_string_is_a_plain_text_200(call: Call) -> None:
    answer = await call("GET", "/api/plain")
    assert (answer.status, answer.body) == (200, b"just text")
    assert answer.headers["Content-Type"].startswith("text/plain")


async def test_context_argument_names_the_function(call: Call) -> None:
    assert (await call("GET", "/api/context")).json()["function"] == "with_context"


async def test_failing_function_is_a_bare_500_and_a_logged_traceback(
    call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await call("GET", "/api/boom")
    assert answer.status == 500
    assert b"secret detail" not in answer.body and b"Traceback" not in answer.body
    assert "Executed 'Functions.boom' (Failed" in caplog.text
    assert "RuntimeError: secret detail from deep inside" in caplog.text


async def test_bodies_over_a_megabyte_reach_the_function(call: Call) -> None:
    payload = b"x" * (3 * 1024 * 1024)
    answer = await call("POST", "/api/items/1", data=payload)
    assert answer.json()["body_length"] == len(payload)


async def test_route_prefix_comes_from_host_json(tmp_path: Path, keys: None) -> None:
    write_host_json(tmp_path, route_prefix="v1")
    async with _serve(tmp_path) as call:
        assert (await call("GET", "/v1/items/3")).json()["route_params"] == {"id": "3"}
        assert (await call("GET", "/api/items/3")).status == 404


async def test_empty_route_prefix_serves_from_the_root(tmp_path: Path, keys: None) -> None:
    write_host_json(tmp_path, route_prefix="")
    async with _serve(tmp_path) as call:
        assert (await call("GET", "/items/3")).status == 200
