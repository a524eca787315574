"""The HTTP functions with real func.HttpRequest objects over a real Azurite."""

import json
from pathlib import Path

import pytest

from tests.functions.conftest import ADMIN, APP, call, request

pytestmark = pytest.mark.usefixtures("app_env")


async def test_no_principal_is_401_and_a_role_that_may_not_is_403() -> None:
    status, body = await call("get_email_parameters", request("GET", "email/parameters", roles=None))
    assert status == 401 and body["error"]["code"] == "NotAuthenticated"
    status, body = await call("get_email_parameters", request("GET", "email/parameters", roles=(APP,)))
    assert status == 403 and "Mail.Admin" in body["error"]["message"]


async def test_a_principal_header_is_ignored_where_the_platform_does_not_authenticate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared import bootstrap

    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    await bootstrap.reset()
    status, _ = await call("get_email_parameters", request("GET", "email/parameters", roles=(ADMIN,)))
    assert status == 401


async def test_parameters_are_read_and_patched_with_field_errors() -> None:
    status, shown = await call("get_email_parameters", request("GET", "email/parameters"))
    assert status == 200 and shown["smtp"]["port"] == 587 and shown["smtp"]["passwordSet"] is False
    status, patched = await call(
        "patch_email_parameters", request("PATCH", "email/parameters", body={"smtp": {"server": "mail.contoso.com"}})
    )
    assert status == 200 and patched["smtp"]["server"] == "mail.contoso.com"
    status, error = await call(
        "patch_email_parameters", request("PATCH", "email/parameters", body={"smtp": {"port": 70000}})
    )
    assert status == 400 and error["error"]["field"] == "smtp.port"
    status, error = await call("patch_email_parameters", request("PATCH", "email/parameters", raw=b"{not json"))
    assert status == 400 and error["error"]["code"] == "InvalidJson"
    _, again = await call("get_email_parameters", request("GET", "email/parameters"))
    assert again["smtp"]["server"] == "mail.contoso.com" and again["smtp"]["port"] == 587


async def test_the_smtp_password_is_written_never_shown_and_cleared(tmp_path: Path) -> None:
    status, _ = await call(
        "put_smtp_password", request("PUT", "email/parameters/smtp-password", body={"password": "Zebra-42!"})
    )
    assert status == 204
    _, shown = await call("get_email_parameters", request("GET", "email/parameters"))
    assert shown["smtp"]["passwordSet"] is True and "Zebra-42!" not in json.dumps(shown)
    secrets_file = tmp_path / "secrets.json"
    assert secrets_file.stat().st_mode & 0o077 == 0  # readable only by its owner
    status, _ = await call("delete_smtp_password", request("DELETE", "email/parameters/smtp-password"))
    assert status == 204
    _, shown = await call("get_email_parameters", request("GET", "email/parameters"))
    assert shown["smtp"]["passwordSet"] is False


async def test_users_are_created_read_updated_and_deleted() -> None:
    put = lambda body: request("PUT", "users/alice", body=body, route_params={"userId": "alice"})  # noqa: E731
    status, created = await call("put_user", put({"email": "Alice <alice@contoso.com>"}))
    assert status == 201 and created == {"userId": "alice", "email": "alice@contoso.com", "name": "Alice"}
    status, updated = await call("put_user", put({"email": "alice.smith@contoso.com", "name": "Alice Smith"}))
    assert status == 200 and updated["email"] == "alice.smith@contoso.com"
    status, error = await call("put_user", put({"email": "nope"}))
    assert status == 400 and error["error"]["field"] == "email"
    get = request("GET", "users/alice", route_params={"userId": "alice"})
    assert (await call("get_user", get))[1]["name"] == "Alice Smith"
    delete = request("DELETE", "users/alice", route_params={"userId": "alice"})
    assert (await call("delete_user", delete))[0] == 204
    assert (await call("get_user", get))[0] == 404
    assert (await call("delete_user", delete))[0] == 404


async def test_an_application_sends_and_reads_the_record_but_may_not_configure() -> None:
    await call(
        "put_user", request("PUT", "users/bob", body={"email": "bob@contoso.com"}, route_params={"userId": "bob"})
    )
    send = {"user": "bob", "provider": "smtp", "to": ["carol@contoso.com"], "subject": "Hi"}
    status, accepted = await call("send_email", request("POST", "emails", roles=(APP,), body=send))
    assert status == 202 and accepted["status"] == "Queued"
    read = request("GET", f"emails/{accepted['id']}", roles=(APP,), route_params={"id": accepted["id"]})
    status, record = await call("get_email", read)
    assert status == 200
    assert (record["status"], record["user"], record["to"], record["senderRule"]) == (
        "Queued",
        "bob",
        ["carol@contoso.com"],
        "UserEmail",
    )
    status, _ = await call(
        "put_user",
        request("PUT", "users/x", roles=(APP,), body={"email": "x@contoso.com"}, route_params={"userId": "x"}),
    )
    assert status == 403


async def test_bad_send_requests_are_400_with_the_field_and_nothing_is_stored(app_env: str) -> None:
    await call(
        "put_user", request("PUT", "users/bob", body={"email": "bob@contoso.com"}, route_params={"userId": "bob"})
    )
    bad = {"user": "bob", "provider": "smtp", "to": ["carol@contoso.com"], "subject": "Hi\r\nBcc: eve@evil.com"}
    status, error = await call("send_email", request("POST", "emails", roles=(APP,), body=bad))
    assert status == 400 and error["error"]["field"] == "subject" and error["error"]["code"] == "HeaderInjection"
    from azure.data.tables.aio import TableServiceClient

    async with TableServiceClient.from_connection_string(app_env) as service:
        names = [t.name async for t in service.list_tables()]
        if "emailhistory" in names:
            table = service.get_table_client("emailhistory")
            assert [e async for e in table.list_entities()] == []


async def test_an_unknown_or_malformed_email_id_is_404() -> None:
    for email_id in ("20261204-1-0000000000aaaaaaaaaa", "not-an-id"):
        status, error = await call("get_email", request("GET", f"emails/{email_id}", route_params={"id": email_id}))
        assert status == 404 and error["error"]["code"] == "EmailNotFound"
