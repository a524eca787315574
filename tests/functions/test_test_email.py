"""The Email parameters' Test email: sent at once through the batch provider, the outcome answered."""

from __future__ import annotations

import pytest

from tests.functions.conftest import APP, call, request
from tests.support.azurite import free_port
from tests.support.smtp_server import SmtpTestServer

pytestmark = pytest.mark.usefixtures("app_env")


async def configure(port: int, **smtp: object) -> None:
    patch = {"smtp": {"server": "127.0.0.1", "port": port, "sslRequired": False, **smtp}}
    status, _ = await call("patch_email_parameters", request("PATCH", "email/parameters", body=patch))
    assert status == 200


def a_test_email(**body: object) -> object:
    return request("POST", "email/test", body={"to": "bob@contoso.com", "from": "erp@contoso.com", **body})


@pytest.mark.smtp_server(auth=("erp@contoso.com", "Pa55-word"))
async def test_a_test_email_is_sent_at_once_and_recorded(smtp_server: SmtpTestServer) -> None:
    await configure(smtp_server.port, userName="erp@contoso.com")
    await call("put_smtp_password", request("PUT", "email/parameters/smtp-password", body={"password": "Pa55-word"}))
    status, record = await call("send_test_email", a_test_email())
    assert status == 200 and record["status"] == "Sent", record
    assert (record["provider"], record["reference"], record["sender"]) == ("smtp", "Test email", "erp@contoso.com")
    (received,) = smtp_server.messages
    assert received.recipients == ("bob@contoso.com",) and received.login == "erp@contoso.com"
    read = request("GET", f"emails/{record['id']}", roles=(APP,), route_params={"id": record["id"]})
    assert (await call("get_email", read))[1]["status"] == "Sent"


async def test_a_server_that_is_down_fails_the_test_at_once_naming_host_and_port() -> None:
    closed = free_port()
    await configure(closed)
    status, record = await call("send_test_email", a_test_email())
    assert status == 200 and record["status"] == "Failed" and record["attempts"] == 1
    assert f"127.0.0.1:{closed}" in record["lastFailureMessage"]


async def test_an_unreadable_password_is_said_at_once() -> None:
    await configure(free_port(), userName="erp@contoso.com")
    status, record = await call("send_test_email", a_test_email())
    assert status == 200 and record["status"] == "Failed"
    assert record["lastFailureMessage"].startswith("The SMTP password could not be read")


async def test_the_test_email_needs_a_recipient_and_for_smtp_a_sender() -> None:
    await configure(free_port())
    status, error = await call("send_test_email", request("POST", "email/test", body={"to": "bob@contoso.com"}))
    assert status == 400 and error["error"]["field"] == "from"
    status, error = await call("send_test_email", request("POST", "email/test", body={"to": "not an address"}))
    assert status == 400 and error["error"]["field"] == "to"
    status, _ = await call("send_test_email", request("POST", "email/test", roles=(APP,), body={"to": "b@c.com"}))
    assert status == 403
