"""A send request (`POST /emails`) parsed and checked before anything is stored or queued."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Any

from shared.domain import validation as v
from shared.domain.addresses import Mailbox, parse_address, parse_address_list
from shared.domain.mime import Attachment
from shared.domain.users import SEND_PROVIDERS, check_user_id
from shared.errors import InvalidInput

MAX_RECIPIENTS = 500
MODES = ("interactive", "batch")
PRIORITIES = ("normal", "high")
FIELDS = frozenset(
    {
        "user",
        "mode",
        "provider",
        "doNotAskAgain",
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "body",
        "attachments",
        "priority",
        "reference",
        "idempotencyKey",
    }
)
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class SendRequest:
    user: str
    mode: str
    provider: str | None
    do_not_ask_again: bool
    from_: Mailbox | None
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    bcc: tuple[Mailbox, ...]
    subject: str
    text: str | None
    html: str | None
    attachments: tuple[Attachment, ...]
    priority: str
    reference: str | None
    idempotency_key: str | None

    @property
    def all_recipients(self) -> tuple[Mailbox, ...]:
        return (*self.to, *self.cc, *self.bcc)


def parse_send_request(body: Any) -> SendRequest:
    document = v.require_object(body, "body")
    v.reject_unknown(document, FIELDS)
    if "user" not in document:
        raise InvalidInput("user is required: the user the email is sent for", code="Required", field="user")
    mode = v.choice(document.get("mode", "interactive"), "mode", MODES)
    provider = document.get("provider")
    if provider is not None:
        provider = v.choice(provider, "provider", SEND_PROVIDERS)
    to = parse_address_list(document.get("to"), "to")
    cc = parse_address_list(document.get("cc"), "cc")
    bcc = parse_address_list(document.get("bcc"), "bcc")
    count = len(to) + len(cc) + len(bcc)
    if count == 0 and provider != "eml":
        raise InvalidInput("to, cc and bcc are all empty: name at least one recipient", code="NoRecipients", field="to")
    if count > MAX_RECIPIENTS:
        raise InvalidInput(
            f"An email may have at most {MAX_RECIPIENTS} recipients in to, cc and bcc together; this one has {count}",
            code="TooManyRecipients",
            field="to",
        )
    priority = v.choice(document.get("priority", "normal"), "priority", PRIORITIES)
    if priority == "high" and mode != "batch":
        raise InvalidInput(
            "priority applies to batch email only; interactive email is never held back",
            code="InvalidCombination",
            field="priority",
        )
    text, html = _body(document.get("body"))
    return SendRequest(
        user=check_user_id(document["user"], "user"),
        mode=mode,
        provider=provider,
        do_not_ask_again=v.boolean(document.get("doNotAskAgain", False), "doNotAskAgain"),
        from_=None if document.get("from") is None else parse_address(document["from"], "from"),
        to=to,
        cc=cc,
        bcc=bcc,
        subject=v.text(document.get("subject", ""), "subject", max_length=998),
        text=text,
        html=html,
        attachments=_attachments(document.get("attachments")),
        priority=priority,
        reference=_optional_text(document.get("reference"), "reference", 256),
        idempotency_key=_idempotency_key(document.get("idempotencyKey")),
    )


def _optional_text(value: Any, field: str, max_length: int) -> str | None:
    return None if value is None else v.text(value, field, max_length=max_length) or None


def _idempotency_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _IDEMPOTENCY_KEY.match(value):
        raise InvalidInput(
            "idempotencyKey must be 1 to 128 letters, digits or . _ : -",
            code="InvalidIdempotencyKey",
            field="idempotencyKey",
        )
    return value


def _body(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    document = v.require_object(value, "body")
    v.reject_unknown(document, {"text", "html"}, "body.")
    text, html = document.get("text"), document.get("html")
    for name, part in (("body.text", text), ("body.html", html)):
        if part is not None and not isinstance(part, str):
            raise v.wrong_type(name, "a string")
    return text, html


def _attachments(value: Any) -> tuple[Attachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise v.wrong_type("attachments", "a list")
    return tuple(_attachment(item, f"attachments[{index}]") for index, item in enumerate(value))


def _attachment(value: Any, field: str) -> Attachment:
    document = v.require_object(value, field)
    v.reject_unknown(document, {"name", "contentType", "contentBase64"}, f"{field}.")
    name = v.text(document.get("name"), f"{field}.name", max_length=255, allow_empty=False)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInput(
            f"{field}.name must be a file name without / or \\ path separators, not {name!r}",
            code="InvalidAttachmentName",
            field=f"{field}.name",
        )
    content_type = document.get("contentType", "application/octet-stream")
    if not isinstance(content_type, str) or not _CONTENT_TYPE.match(content_type):
        raise InvalidInput(
            f"{field}.contentType must be a media type such as application/pdf",
            code="InvalidContentType",
            field=f"{field}.contentType",
        )
    encoded = document.get("contentBase64")
    if not isinstance(encoded, str):
        raise v.wrong_type(f"{field}.contentBase64", "a base64 string")
    try:
        content = binascii.a2b_base64(encoded.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidInput(
            f"{field}.contentBase64 is not valid base64 (RFC 4648, with padding, no line breaks)",
            code="InvalidBase64",
            field=f"{field}.contentBase64",
        ) from None
    return Attachment(name=name, content_type=content_type.lower(), content=content)
