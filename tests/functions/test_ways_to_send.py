"""Every way a user can send, through the app's HTTP functions: the provider choice, the
user's options, sender rules, the .eml draft and idempotent requests."""

from __future__ import annotations

import base64
import email
import json
from email import policy
from typing import Any

import azure.functions as func
import pytest

from tests.functions.conftest import ADMIN, APP, call, request, user_function

pytestmark = pytest.mark.usefixtures("app_env")
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


async def add_user(user_id: str, address: str) -> None:
    status, _ = await call(
        "put_user", request("PUT", f"users/{user_id}", body={"email": address}, route_params={"userId": user_id})
    )
    assert status == 201
    await call("patch_email_parameters", request("PATCH", "email/parameters", body={"smtp": {"server": "127.0.0.1"}}))


def send(**fields: Any) -> func.HttpRequest:
    body = {"user": "alice", "to": ["bob@contoso.com"], "subject": "Invoice"}
    body.update(fields)
    return request("POST", "emails", roles=(APP,), body=body)


def options(method: str, roles: tuple[str, ...], body: Any = None) -> func.HttpRequest:
    return request(method, "users/alice/options", roles=roles, body=body, route_params={"userId": "alice"})


async def record(email_id: str) -> dict[str, Any]:
    status, found = await call("get_email", request("GET", f"emails/{email_id}", route_params={"id": email_id}))
    assert status == 200
    return dict(found)


async def test_the_provider_choice_is_asked_then_saved_with_do_not_ask_again() -> None:
    await add_user("alice", "alice@contoso.com")
    status, asked = await call("send_email", send())
    assert status == 409 and asked["error"]["code"] == "ProviderChoiceRequired"
    assert [(o["id"], o["label"], o["lastUsed"]) for o in asked["error"]["details"]["options"]] == [
        ("eml", "Use an email app, such as Outlook", False),
        ("exchange", "Use Exchange email server", False),
        ("smtp", "Use the system email client", False),
    ]
    status, _ = await call("send_email", send(provider="smtp"))  # chosen once, not saved
    assert status == 202
    status, asked_again = await call("send_email", send())
    assert status == 409
    assert [o["id"] for o in asked_again["error"]["details"]["options"] if o["lastUsed"]] == ["smtp"]

    status, _ = await call("send_email", send(provider="smtp", doNotAskAgain=True))
    assert status == 202
    assert (await call("get_user_options", options("GET", (APP,))))[1]["emailProviderId"] == "smtp"
    status, quiet = await call("send_email", send())
    assert status == 202 and (await record(quiet["id"]))["provider"] == "smtp"


async def test_an_application_sets_the_choice_and_flag_but_not_the_sender_override() -> None:
    await add_user("alice", "alice@contoso.com")
    status, shown = await call("get_user_options", options("GET", (APP,)))
    assert status == 200
    assert shown == {"emailProviderId": None, "senderEmail": None, "workflowNotificationsInEmail": False}
    patch = {"emailProviderId": "eml", "workflowNotificationsInEmail": True}
    status, changed = await call("patch_user_options", options("PATCH", (APP,), patch))
    assert status == 200 and changed["emailProviderId"] == "eml" and changed["workflowNotificationsInEmail"]

    status, refused = await call("patch_user_options", options("PATCH", (APP,), {"senderEmail": "sales@contoso.com"}))
    assert status == 403 and refused["error"]["field"] == "senderEmail"
    status, _ = await call("patch_user_options", options("PATCH", (ADMIN,), {"senderEmail": "sales@contoso.com"}))
    assert status == 200
    status, bad = await call("patch_user_options", options("PATCH", (ADMIN,), {"emailProviderId": "fax"}))
    assert status == 400 and bad["error"]["field"] == "emailProviderId"
    status, cleared = await call("patch_user_options", options("PATCH", (APP,), {"emailProviderId": None}))
    assert cleared["emailProviderId"] is None and cleared["senderEmail"] == "sales@contoso.com"
    missing = request("GET", "users/nobody/options", roles=(APP,), route_params={"userId": "nobody"})
    assert (await call("get_user_options", missing))[0] == 404


async def test_the_sender_override_is_used_and_a_foreign_from_is_403() -> None:
    await add_user("alice", "alice@contoso.com")
    await call("patch_user_options", options("PATCH", (ADMIN,), {"senderEmail": "sales@contoso.com"}))
    status, accepted = await call("send_email", send(provider="smtp"))
    assert status == 202
    sent = await record(accepted["id"])
    assert (sent["sender"], sent["senderRule"], sent["from"]) == (
        "sales@contoso.com",
        "UserSenderEmail",
        "sales@contoso.com",
    )
    status, refused = await call("send_email", send(provider="smtp", **{"from": "ceo@contoso.com"}))
    assert status == 403 and refused["error"]["field"] == "from"
    assert refused["error"]["message"].startswith("Client does not have permissions to send as this sender")


async def test_an_eml_draft_is_a_download_recorded_as_generated() -> None:
    await add_user("alice", "alice@contoso.com")
    attachment = {
        "name": "Rechnung März.pdf",
        "contentType": "application/pdf",
        "contentBase64": base64.b64encode(PDF).decode(),
    }
    response = await user_function("send_email")(
        send(
            provider="eml",
            subject="Rechnung März",
            cc=["Carol <carol@contoso.com>"],
            bcc=["audit@contoso.com"],
            body={"text": "Anbei.", "html": "<p>Anbei.</p>"},
            attachments=[attachment],
        )
    )
    assert response.status_code == 200
    assert response.mimetype == "message/rfc822"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Rechnung M_rz.eml"')
    assert "filename*=UTF-8''Rechnung%20M%C3%A4rz.eml" in disposition
    email_id = response.headers["X-Mailroom-Id"]

    draft = email.message_from_bytes(response.get_body(), policy=policy.default)
    assert all(not part.defects for part in draft.walk())
    assert draft["X-Unsent"] == "1" and draft["From"] is None
    assert draft["Subject"] == "Rechnung März" and draft["Bcc"] == "audit@contoso.com"
    (part,) = list(draft.iter_attachments())
    assert part.get_filename() == "Rechnung März.pdf" and part.get_content() == PDF

    generated = await record(email_id)
    assert (generated["status"], generated["provider"], generated["senderRule"]) == ("Generated", "eml", "UserMailApp")
    assert generated["sizeBytes"] == len(response.get_body())


async def test_an_eml_takes_no_from_and_needs_no_recipients() -> None:
    await add_user("alice", "alice@contoso.com")
    response = await user_function("send_email")(send(provider="eml", to=[]))
    assert response.status_code == 200
    status, refused = await call("send_email", send(provider="eml", **{"from": "alice@contoso.com"}))
    assert status == 400 and refused["error"]["field"] == "from"


async def test_the_same_idempotency_key_answers_as_the_first_time(app_env: str) -> None:
    await add_user("alice", "alice@contoso.com")
    first = await call("send_email", send(provider="smtp", idempotencyKey="order-42"))
    again = await call("send_email", send(provider="smtp", idempotencyKey="order-42"))
    assert first[0] == again[0] == 202 and first[1] == again[1]
    status, reused = await call("send_email", send(provider="smtp", idempotencyKey="order-42", subject="Other"))
    assert status == 422 and reused["error"]["code"] == "IdempotencyKeyReused"

    from azure.storage.queue.aio import QueueClient

    async with QueueClient.from_connection_string(app_env, "email-interactive") as queue:
        messages = await queue.peek_messages(max_messages=32)
    assert [json.loads(base64.b64decode(m.content))["id"] for m in messages] == [first[1]["id"]]


async def test_batch_email_goes_through_the_batch_provider_only() -> None:
    await add_user("alice", "alice@contoso.com")
    status, accepted = await call("send_email", send(mode="batch"))  # no choice asked for batch email
    assert status == 202 and (await record(accepted["id"]))["provider"] == "smtp"
    status, refused = await call("send_email", send(mode="batch", provider="eml"))
    assert status == 400 and refused["error"]["field"] == "provider"
