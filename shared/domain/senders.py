"""Which account an email is sent from, and why (the record's `senderRule`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from shared.domain.addresses import Mailbox
from shared.domain.users import User
from shared.errors import CannotHonour, NotPermitted

SEND_AS_DENIED = "Client does not have permissions to send as this sender"


class SenderRule(enum.StrEnum):
    REQUEST_FROM = "RequestFrom"  # the request's `from`, which the user may send as
    USER_SENDER_EMAIL = "UserSenderEmail"  # the administrator's override on the user
    USER_EMAIL = "UserEmail"  # the user's own address
    EXCHANGE_BATCH_ACCOUNT = "ExchangeBatchAccount"  # batch email through Exchange
    USER_MAIL_APP = "UserMailApp"  # an .eml draft: the user's own mail app sends from their account


@dataclass(frozen=True)
class SenderChoice:
    from_: Mailbox  # the From header
    sender: str  # the account that sends
    rule: SenderRule


def choose_sender(
    *, requested: Mailbox | None, user: User, batch_through_exchange: bool, batch_account: str | None
) -> SenderChoice:
    own = {user.email.lower()} | ({user.sender_email.lower()} if user.sender_email else set())
    if requested is not None and requested.address.lower() not in own:
        raise NotPermitted(
            f"{SEND_AS_DENIED}: user {user.user_id} may send as {', '.join(sorted(own))}, not {requested.address}",
            code="SendAsDenied",
            field="from",
        )
    if batch_through_exchange:
        if not batch_account:
            raise CannotHonour(
                "Batch email goes through Exchange, but no batch account is set: set "
                "exchange.batchAccount on the Email parameters",
                code="BatchAccountMissing",
            )
        mailbox = requested or Mailbox(batch_account)
        return SenderChoice(mailbox, batch_account, SenderRule.EXCHANGE_BATCH_ACCOUNT)
    if requested is not None:
        return SenderChoice(requested, requested.address, SenderRule.REQUEST_FROM)
    if user.sender_email:
        return SenderChoice(Mailbox(user.sender_email), user.sender_email, SenderRule.USER_SENDER_EMAIL)
    return SenderChoice(Mailbox(user.email, user.name), user.email, SenderRule.USER_EMAIL)
