"""The API described as OpenAPI 3.1 (schemas are JSON Schema 2020-12), served at /api/openapi.json.

Tests check that every HTTP function appears here and that real responses match these schemas.
"""

from __future__ import annotations

from typing import Any

PROVIDERS = ["eml", "exchange", "smtp"]
STATUSES = ["Queued", "Deferred", "Waiting", "Sending", "Sent", "Unconfirmed", "Failed", "Expired", "Generated"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "an error: code, plain-words message, the field at fault")
ERRORS = {"400": ERROR, "401": ERROR, "403": ERROR, "503": ERROR}
ADDRESS = {"type": "string", "description": "alice@contoso.com or Alice <alice@contoso.com>", "maxLength": 320}
ADDRESSES = {"type": "array", "items": ADDRESS, "maxItems": 500}
STAMP = _nullable({"type": "string", "format": "date-time"})

SMTP_FIELDS: dict[str, Any] = {
    "server": {"type": "string", "description": "host name or IPv4 address; empty: not set"},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 587},
    "sslRequired": {"type": "boolean", "default": True, "description": "implicit TLS on 465, else STARTTLS"},
    "authenticationRequired": {"type": "boolean", "default": False},
    "userName": _nullable({"type": "string"}),
    "passwordSecretName": {"type": "string", "default": "smtp-password"},
}
PARAMETER_FIELDS: dict[str, Any] = {
    "batchProvider": {"enum": ["smtp", "exchange"]},
    "batchProcessing": {"type": "boolean"},
    "maxEmailSizeMb": {"type": "number", "exclusiveMinimum": 0, "maximum": 150},
    "expirationDays": {"type": "integer", "minimum": 0, "description": "0 means 30"},
    "historyRetentionDays": {"type": "integer", "minimum": 0, "description": "0 means 30"},
}
THROTTLING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean"},
        "perMinuteLimits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"smtp": {"type": "integer", "minimum": 0}, "exchange": {"type": "integer", "minimum": 0}},
        },
    },
}
EXCHANGE = {"type": "object", "additionalProperties": False, "properties": {"batchAccount": _nullable(ADDRESS)}}


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    return schema


SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "details": {"description": "e.g. the provider options of ProviderChoiceRequired"},
                },
                required=["code", "message"],
            )
        },
        required=["error"],
    ),
    "EmailParameters": _object(
        {
            **PARAMETER_FIELDS,
            "throttling": THROTTLING,
            "smtp": _object({**SMTP_FIELDS, "passwordSet": {"type": ["boolean", "null"], "readOnly": True}}),
            "exchange": EXCHANGE,
        },
        required=["batchProvider", "batchProcessing", "maxEmailSizeMb", "smtp", "exchange", "throttling"],
    ),
    "EmailParametersPatch": _object(
        {
            **{name: _nullable(schema) for name, schema in PARAMETER_FIELDS.items()},
            "throttling": _nullable(THROTTLING),
            "smtp": _nullable(_object({name: _nullable(schema) for name, schema in SMTP_FIELDS.items()})),
            "exchange": _nullable(EXCHANGE),
        }
    ),
    "Password": _object({"password": {"type": "string", "minLength": 1, "writeOnly": True}}, required=["password"]),
    "TestEmail": _object(
        {"to": ADDRESS, "from": {**ADDRESS, "description": "required for SMTP: an address the account may send as"}},
        required=["to"],
    ),
    "UserRequest": _object({"email": ADDRESS, "name": {"type": "string"}}, required=["email"]),
    "User": _object(
        {"userId": {"type": "string"}, "email": {"type": "string"}, "name": {"type": "string"}},
        required=["userId", "email", "name"],
    ),
    "UserOptions": _object(
        {
            "emailProviderId": _nullable({"enum": PROVIDERS}),
            "senderEmail": _nullable({"type": "string", "description": "administrator only"}),
            "workflowNotificationsInEmail": {"type": "boolean"},
        }
    ),
    "SendRequest": _object(
        {
            "user": {"type": "string"},
            "mode": {"enum": ["interactive", "batch"], "default": "interactive"},
            "provider": {"enum": PROVIDERS},
            "doNotAskAgain": {"type": "boolean"},
            "from": ADDRESS,
            "to": ADDRESSES,
            "cc": ADDRESSES,
            "bcc": ADDRESSES,
            "subject": {"type": "string", "maxLength": 998},
            "body": _object({"text": {"type": "string"}, "html": {"type": "string"}}),
            "attachments": {
                "type": "array",
                "items": _object(
                    {
                        "name": {"type": "string", "description": "a file name, no path separators"},
                        "contentType": {"type": "string", "default": "application/octet-stream"},
                        "contentBase64": {"type": "string", "contentEncoding": "base64"},
                    },
                    required=["name", "contentBase64"],
                ),
            },
            "priority": {"enum": ["normal", "high"], "description": "batch email only"},
            "reference": {"type": "string", "maxLength": 256},
            "idempotencyKey": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        },
        required=["user"],
    ),
    "Accepted": _object({"id": {"type": "string"}, "status": {"const": "Queued"}}, required=["id", "status"]),
    "EmailRecord": _object(
        {
            "id": {"type": "string"},
            "status": {"enum": STATUSES},
            "mode": {"enum": ["interactive", "batch"]},
            "provider": {"enum": PROVIDERS},
            "priority": {"enum": ["normal", "high"]},
            "user": {"type": "string"},
            "reference": _nullable({"type": "string"}),
            "templateId": _nullable({"type": "string"}),
            "sender": {"type": "string"},
            "senderRule": {
                "enum": ["RequestFrom", "UserSenderEmail", "UserEmail", "ExchangeBatchAccount", "UserMailApp"]
            },
            "from": {"type": "string"},
            "to": ADDRESSES,
            "cc": ADDRESSES,
            "bcc": ADDRESSES,
            "subject": {"type": "string"},
            "sizeBytes": {"type": "integer"},
            "attachments": {
                "type": "array",
                "items": _object({"name": {"type": "string"}, "sizeBytes": {"type": "integer"}}),
            },
            "createdAt": {"type": "string", "format": "date-time"},
            "sentAt": STAMP,
            "attempts": {"type": "integer"},
            "deferrals": {"type": "integer"},
            "nextAttemptAt": STAMP,
            "resentAt": STAMP,
            "lastFailureMessage": _nullable({"type": "string"}),
            "failureDetails": _nullable(
                _object({"code": {"type": "string"}, "providerResponse": {"type": "string"}, "at": STAMP})
            ),
            "recipients": {
                "type": "array",
                "items": _object(
                    {
                        "address": {"type": "string"},
                        "status": {"enum": ["Accepted", "Refused", "Pending"]},
                        "response": {"type": "string"},
                    }
                ),
            },
            "attemptLog": {
                "type": "array",
                "items": _object({"at": STAMP, "outcome": {"type": "string"}, "response": {"type": "string"}}),
            },
        },
        required=["id", "status", "mode", "provider", "user", "sender", "senderRule", "createdAt", "attempts"],
    ),
}

# the Email history: filters, pages, the Batch email sending status and resend
FILTER = {
    "status": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"enum": STATUSES}}],
        "description": "a status, or several (comma-separated or an array): any of them",
    },
    **{name: {"type": "string", "maxLength": 256} for name in ("user", "sender", "reference")},
    "provider": {"enum": PROVIDERS},
    "mode": {"enum": ["interactive", "batch"]},
    "since": {"type": "string", "format": "date-time"},
    "until": {"type": "string", "format": "date-time"},
}
TOKEN = {"type": "string", "description": "opaque: from the previous answer, with the same filter"}
SCAN_LIMITED = {"type": "boolean", "description": "stopped early to bound the work: continue with the token"}
COUNT = {"type": "integer", "minimum": 0}
SCHEMAS.update(
    {
        "EmailPage": _object(
            {
                "items": {"type": "array", "items": _ref("EmailRecord"), "maxItems": 100},
                "continuationToken": TOKEN,
                "scanLimited": SCAN_LIMITED,
                "message": {"type": "string"},
            },
            required=["items"],
        ),
        "StatusCounts": _object({status: COUNT for status in STATUSES}, required=STATUSES),
        "ThrottleUse": _object(
            {
                "limit": {**COUNT, "description": "emails a minute; 0: no limit (throttling off)"},
                "usedThisMinute": COUNT,
                "perMailbox": {"type": "boolean", "description": "Exchange: the limit is per sending mailbox"},
            },
            required=["limit", "usedThisMinute"],
        ),
        "BatchStatus": _object(
            {
                "batchProcessing": {"type": "boolean"},
                "queues": _object(
                    {name: COUNT for name in ("interactive", "batch", "high", "poison")},
                    required=["interactive", "batch", "high", "poison"],
                ),
                "oldestQueuedAgeSeconds": COUNT,
                "counts": _object(
                    {"lastHour": _ref("StatusCounts"), "lastDay": _ref("StatusCounts")},
                    required=["lastHour", "lastDay"],
                ),
                "countsComplete": {"type": "boolean"},
                "deferred": {**COUNT, "description": "Deferred now, of the email accepted in the last day"},
                "waiting": {**COUNT, "description": "Waiting now, of the email accepted in the last day"},
                "throttle": _object({"smtp": _ref("ThrottleUse"), "exchange": _ref("ThrottleUse")}),
                "at": {"type": "string", "format": "date-time"},
            },
            required=["batchProcessing", "queues", "oldestQueuedAgeSeconds", "counts", "throttle"],
        ),
        "ResendFilter": _object({**FILTER, "continuationToken": TOKEN}),
        "Resent": _object({"id": {"type": "string"}, "status": {"const": "Queued"}}, required=["id", "status"]),
        "ResendCount": _object(
            {
                "queued": COUNT,
                "skipped": COUNT,
                "skippedReasons": {"type": "object", "additionalProperties": COUNT},
                "continuationToken": TOKEN,
                "scanLimited": SCAN_LIMITED,
            },
            required=["queued", "skipped"],
        ),
    }
)
HISTORY_QUERY = [
    *({"name": name, "in": "query", "schema": schema} for name, schema in FILTER.items()),
    {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
    {"name": "continuationToken", "in": "query", "schema": TOKEN},
]

USER_ID = {"name": "userId", "in": "path", "required": True, "schema": {"type": "string"}}
EMAIL_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
NO_CONTENT = {"204": {"description": "done"}}


def _operation(
    summary: str, role: str, responses: dict[str, Any], *, body: str | None = None, parameters: Any = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "description": f"Role: {role}.", "responses": responses}
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if parameters:
        operation["parameters"] = parameters
    return operation


PATHS: dict[str, Any] = {
    "/email/parameters": {
        "get": _operation(
            "The Email parameters", "administrator", {"200": _json(_ref("EmailParameters"), "the parameters"), **ERRORS}
        ),
        "patch": _operation(
            "Change the Email parameters (merge patch; null resets a field to its default)",
            "administrator",
            {"200": _json(_ref("EmailParameters"), "the parameters after the change"), **ERRORS},
            body="EmailParametersPatch",
        ),
    },
    "/email/parameters/smtp-password": {
        "put": _operation("Write the SMTP password", "administrator", {**NO_CONTENT, **ERRORS}, body="Password"),
        "delete": _operation("Clear the SMTP password", "administrator", {**NO_CONTENT, **ERRORS}),
    },
    "/email/test": {
        "post": _operation(
            "Send a test email now through the batch provider and answer with its outcome (its history record)",
            "administrator",
            {"200": _json(_ref("EmailRecord"), "the test email's record: Sent, or Failed with the reason"), **ERRORS},
            body="TestEmail",
        )
    },
    "/users/{userId}": {
        "get": _operation(
            "A user",
            "administrator",
            {"200": _json(_ref("User"), "the user"), "404": ERROR, **ERRORS},
            parameters=[USER_ID],
        ),
        "put": _operation(
            "Add or change a user and their email address",
            "administrator",
            {"200": _json(_ref("User"), "changed"), "201": _json(_ref("User"), "added"), **ERRORS},
            body="UserRequest",
            parameters=[USER_ID],
        ),
        "delete": _operation(
            "Remove a user", "administrator", {**NO_CONTENT, "404": ERROR, **ERRORS}, parameters=[USER_ID]
        ),
    },
    "/users/{userId}/options": {
        "get": _operation(
            "A user's email options",
            "application or administrator",
            {"200": _json(_ref("UserOptions"), "the options"), "404": ERROR, **ERRORS},
            parameters=[USER_ID],
        ),
        "patch": _operation(
            "Change a user's email options (senderEmail: administrator only)",
            "application or administrator",
            {"200": _json(_ref("UserOptions"), "the options after the change"), "404": ERROR, **ERRORS},
            body="UserOptions",
            parameters=[USER_ID],
        ),
    },
    "/emails": {
        "post": _operation(
            "Send an email, or generate an .eml draft for the user's mail app",
            "application",
            {
                "200": {
                    "description": "provider eml: the draft; its id in X-Mailroom-Id",
                    "headers": {"X-Mailroom-Id": {"schema": {"type": "string"}}},
                    "content": {"message/rfc822": {"schema": {"type": "string", "contentMediaType": "message/rfc822"}}},
                },
                "202": _json(_ref("Accepted"), "queued: it will be sent"),
                "409": _json(_ref("Error"), "ProviderChoiceRequired: how would you like to send email?"),
                "413": ERROR,
                "422": ERROR,
                **ERRORS,
            },
            body="SendRequest",
        ),
        "get": _operation(
            "The Email history, newest first (filters are exact matches)",
            "administrator",
            {"200": _json(_ref("EmailPage"), "a page; continuationToken absent on the last"), **ERRORS},
            parameters=HISTORY_QUERY,
        ),
    },
    "/emails/{id}": {
        "get": _operation(
            "One email's history record",
            "application or administrator",
            {"200": _json(_ref("EmailRecord"), "the record"), "404": ERROR, **ERRORS},
            parameters=[EMAIL_ID],
        )
    },
    "/emails/status": {
        "get": _operation(
            "The Batch email sending status", "administrator", {"200": _json(_ref("BatchStatus"), "now"), **ERRORS}
        )
    },
    "/emails/{id}/resend": {
        "post": _operation(
            "Queue a Failed, Expired or Unconfirmed email again (a new attempt on the same record)",
            "administrator",
            {
                "202": _json(_ref("Resent"), "queued again"),
                "404": ERROR,
                "409": _json(_ref("Error"), "NotResendable: not Failed, Expired or Unconfirmed (or queued already)"),
                "422": _json(_ref("Error"), "ContentMissing: its content is no longer stored"),
                **ERRORS,
            },
            parameters=[EMAIL_ID],
        )
    },
    "/emails/resend": {
        "post": _operation(
            "Queue again every Failed, Expired or Unconfirmed email a history filter selects, with a count",
            "administrator",
            {"200": _json(_ref("ResendCount"), "how many were queued and skipped"), **ERRORS},
            body="ResendFilter",
        )
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {}}}}},
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Mailroom",
        "version": "0.1.0",
        "description": "The email subsystem of a business application: send email for users and batch "
        "processes, configure providers, read each email's history.",
    },
    "servers": [{"url": "/api"}],
    "security": [{"functionKey": []}, {"functionKeyQuery": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
            "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
        },
    },
}
