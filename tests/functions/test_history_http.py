"""The history's HTTP functions: administrators list, read the status and resend; an application
reads one email by id and nothing more; and each route is reached as the Functions host routes."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

import function_app
from devhost.catalog import index_app
from devhost.route_template import RouteTemplate
from devhost.routes import Route, RouteMatch, RouteTable
from shared import bootstrap
from tests.functions.conftest import APP, call, principal, request
from tests.functions.test_openapi import conforms
from tests.support.app_index import indexed_functions


def with_query(url: str, params: dict[str, str], *, roles: tuple[str, ...] = ("Mail.Admin",)) -> func.HttpRequest:
    headers = {"x-ms-client-principal": principal(*roles)}
    return func.HttpRequest("GET", f"http://localhost/api/{url}", headers=headers, params=params, body=b"")


async def sent_and_failed() -> tuple[str, str]:
    """Two emails through the app's own functions and dispatcher: one Sent, one Failed (no SMTP server)."""
    user = request("PUT", "users/alice", body={"email": "alice@contoso.com"}, route_params={"userId": "alice"})
    assert (await call("put_user", user))[0] in (200, 201)
    ids = []
    for subject in ("one", "two"):
        body = {"user": "alice", "provider": "smtp", "to": ["bob@example.com"], "subject": subject, "reference": "R-1"}
        status, accepted = await call("send_email", request("POST", "emails", roles=(APP,), body=body))
        assert status == 202
        ids.append(accepted["id"])
    await bootstrap.services().dispatching.dispatch(f'{{"id": "{ids[1]}"}}'.encode(), message_id="m1")  # no server
    return ids[0], ids[1]


@pytest.mark.usefixtures("app_env")
async def test_an_administrator_lists_pages_and_reads_the_status() -> None:
    queued, failed = await sent_and_failed()
    status, page = await call("list_emails", with_query("emails", {"top": "1", "reference": "R-1"}))
    assert status == 200 and [item["id"] for item in page["items"]] == [failed]
    conforms(page, "EmailPage")
    token = page["continuationToken"]
    next_page = {"top": "1", "reference": "R-1", "continuationToken": token}
    status, rest = await call("list_emails", with_query("emails", next_page))
    assert [item["id"] for item in rest["items"]] == [queued] and "continuationToken" not in rest

    status, error = await call("list_emails", with_query("emails", {"top": "500"}))
    assert status == 400 and error["error"]["field"] == "top"
    status, report = await call("get_batch_status", with_query("emails/status", {}))
    assert status == 200 and report["queues"]["interactive"] == 2
    conforms(report, "BatchStatus")


@pytest.mark.usefixtures("app_env")
async def test_an_administrator_resends_one_email_or_a_filtered_set() -> None:
    _, failed = await sent_and_failed()
    resend = request("POST", f"emails/{failed}/resend", route_params={"id": failed})
    status, answer = await call("resend_email", resend)
    assert (status, answer) == (202, {"id": failed, "status": "Queued"})
    conforms(answer, "Resent")
    status, error = await call("resend_email", request("POST", f"emails/{failed}/resend", route_params={"id": failed}))
    assert status == 409 and error["error"]["code"] == "NotResendable"
    unknown = "20261204-3-0000000000aaaaaaaaaa"
    assert (await call("resend_email", request("POST", "x", route_params={"id": unknown})))[0] == 404

    status, counted = await call("resend_emails", request("POST", "emails/resend", body={"reference": "R-1"}))
    assert (status, counted) == (200, {"queued": 0, "skipped": 0, "skippedReasons": {}})
    conforms(counted, "ResendCount")
    conforms({"status": "Failed,Expired", "user": "alice"}, "ResendFilter")
    assert (await call("resend_emails", request("POST", "emails/resend")))[0] == 400


@pytest.mark.usefixtures("app_env")
async def test_an_application_reads_an_email_by_id_but_not_the_history() -> None:
    queued, _ = await sent_and_failed()
    forbidden: list[tuple[str, func.HttpRequest]] = [
        ("list_emails", with_query("emails", {}, roles=(APP,))),
        ("get_batch_status", with_query("emails/status", {}, roles=(APP,))),
        ("resend_email", request("POST", "x", roles=(APP,), route_params={"id": queued})),
        ("resend_emails", request("POST", "emails/resend", roles=(APP,), body={})),
    ]
    for name, req in forbidden:
        assert (await call(name, req))[0] == 403, name
    read = request("GET", f"emails/{queued}", roles=(APP,), route_params={"id": queued})
    assert (await call("get_email", read))[0] == 200
    await bootstrap.services().history.delete(queued)  # as the purge leaves it
    status, error = await call("get_email", read)
    assert status == 404 and error["error"]["code"] == "EmailNotFound"


def test_each_history_route_reaches_its_function_in_the_hosts_order() -> None:
    indexed_functions()  # the app's own index first: an app indexes once per name (see app_index.py)
    catalog = index_app(function_app.app)
    table = RouteTable([Route(RouteTemplate.parse(f"api/{f.route}"), f) for f in catalog.http])
    assert table.shadowed() == []

    def reached(method: str, path: str) -> Any:
        match = table.resolve(method, path)
        assert isinstance(match, RouteMatch), (method, path)
        return match.route.function.name

    email_id = "20261204-3-0881234567a1b2c3d4e5"
    assert reached("GET", "/api/emails/status") == "get_batch_status"
    assert reached("GET", f"/api/emails/{email_id}") == "get_email"
    assert reached("GET", "/api/emails") == "list_emails"
    assert reached("POST", "/api/emails") == "send_email"
    assert reached("POST", "/api/emails/resend") == "resend_emails"
    assert reached("POST", f"/api/emails/{email_id}/resend") == "resend_email"
