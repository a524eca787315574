"""The OpenAPI document is valid, lists every HTTP function, and describes real responses."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from functions.openapi_document import DOCUMENT
from tests.functions.conftest import APP, call, request
from tests.support.app_index import indexed_functions

REGISTRY = Registry().with_resource("urn:mailroom:openapi", DRAFT202012.create_resource(DOCUMENT))


def conforms(instance: Any, schema_name: str) -> None:
    schema = {"$ref": f"urn:mailroom:openapi#/components/schemas/{schema_name}"}
    errors = list(Draft202012Validator(schema, registry=REGISTRY).iter_errors(instance))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT)


def test_every_http_function_is_described_and_nothing_else() -> None:
    registered = set()
    for function in indexed_functions():
        trigger = function.get_trigger()
        if trigger.type == "httpTrigger":
            for method in trigger.methods:
                registered.add((f"/{trigger.route}", str(method.value).lower()))
    described = {(path, method) for path, operations in DOCUMENT["paths"].items() for method in operations}
    assert registered == described


@pytest.mark.usefixtures("app_env")
async def test_the_document_is_served_to_anyone() -> None:
    status, served = await call("get_openapi", request("GET", "openapi.json", roles=None))
    assert status == 200 and served == DOCUMENT


@pytest.mark.usefixtures("app_env")
async def test_real_responses_match_their_schemas() -> None:
    status, parameters = await call("get_email_parameters", request("GET", "email/parameters"))
    conforms(parameters, "EmailParameters")
    status, patched = await call(
        "patch_email_parameters",
        request("PATCH", "email/parameters", body={"smtp": {"server": "127.0.0.1", "userName": "mailer"}}),
    )
    conforms(patched, "EmailParameters")
    user = request("PUT", "users/alice", body={"email": "Alice <alice@contoso.com>"}, route_params={"userId": "alice"})
    conforms((await call("put_user", user))[1], "User")
    options = request("GET", "users/alice/options", roles=(APP,), route_params={"userId": "alice"})
    conforms((await call("get_user_options", options))[1], "UserOptions")

    send = {"user": "alice", "provider": "smtp", "to": ["bob@contoso.com"], "subject": "Hi", "reference": "SO-1"}
    conforms(send, "SendRequest")
    status, accepted = await call("send_email", request("POST", "emails", roles=(APP,), body=send))
    assert status == 202
    conforms(accepted, "Accepted")
    read = request("GET", f"emails/{accepted['id']}", roles=(APP,), route_params={"id": accepted["id"]})
    conforms((await call("get_email", read))[1], "EmailRecord")

    no_choice = {key: value for key, value in send.items() if key != "provider"}
    status, error = await call("send_email", request("POST", "emails", roles=(APP,), body=no_choice))
    assert status == 409
    conforms(error, "Error")
    status, error = await call("send_email", request("POST", "emails", roles=(APP,), body={**send, "extra": 1}))
    assert status == 400
    conforms(error, "Error")
