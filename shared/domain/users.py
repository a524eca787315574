"""A user of the business application and their email options."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from shared.domain import validation as v
from shared.domain.addresses import parse_address
from shared.errors import InvalidInput, NotPermitted

SEND_PROVIDERS = ("eml", "exchange", "smtp")
OPTION_FIELDS = frozenset({"emailProviderId", "senderEmail", "workflowNotificationsInEmail"})
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def check_user_id(user_id: Any, field: str = "userId") -> str:
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise InvalidInput(
            f"{field} must be 1 to 64 letters, digits or . _ @ + - and start with a letter or digit",
            code="InvalidUserId",
            field=field,
        )
    return user_id


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    name: str = ""
    sender_email: str | None = None  # the administrator's *send from* override
    email_provider_id: str | None = None  # None: ask the user each time
    workflow_notifications_in_email: bool = False
    last_used_provider: str | None = None

    @classmethod
    def from_request(cls, user_id: str, body: Any, existing: User | None) -> User:
        document = v.require_object(body, "body")
        v.reject_unknown(document, {"email", "name"})
        if "email" not in document:
            raise InvalidInput("email is required: the user's own address", code="Required", field="email")
        mailbox = parse_address(document["email"], "email")
        name = v.text(document.get("name", mailbox.name), "name", max_length=256)
        base = existing or cls(user_id=check_user_id(user_id), email=mailbox.address)
        return replace(base, email=mailbox.address, name=name)

    def public(self) -> dict[str, Any]:
        return {"userId": self.user_id, "email": self.email, "name": self.name}

    def options(self) -> dict[str, Any]:
        return {
            "emailProviderId": self.email_provider_id,
            "senderEmail": self.sender_email,
            "workflowNotificationsInEmail": self.workflow_notifications_in_email,
        }

    def with_options(self, patch: Any, *, may_set_sender: bool) -> User:
        """Merge patch of the user's options; `senderEmail` is the administrator's to set."""
        document = v.require_object(patch, "body")
        v.reject_unknown(document, OPTION_FIELDS)
        if "senderEmail" in document and not may_set_sender:
            raise NotPermitted(
                "senderEmail is set by an administrator (Mail.Admin): an application may change only "
                "emailProviderId and workflowNotificationsInEmail",
                code="Forbidden",
                field="senderEmail",
            )
        changes: dict[str, Any] = {}
        if "emailProviderId" in document:
            provider = document["emailProviderId"]
            changes["email_provider_id"] = (
                None if provider is None else v.choice(provider, "emailProviderId", SEND_PROVIDERS)
            )
        if "senderEmail" in document:
            sender = document["senderEmail"]
            changes["sender_email"] = None if sender is None else parse_address(sender, "senderEmail").address
        if "workflowNotificationsInEmail" in document:
            flag = document["workflowNotificationsInEmail"]
            changes["workflow_notifications_in_email"] = (
                False if flag is None else v.boolean(flag, "workflowNotificationsInEmail")
            )
        return replace(self, **changes)
