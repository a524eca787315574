"""Composing an accepted email: the size limit counts the message as sent; drafts differ."""

import email
from datetime import UTC, datetime
from email import policy

import pytest

from shared.domain.addresses import Mailbox
from shared.domain.composition import compose_mime, new_record
from shared.domain.history import Status
from shared.domain.parameters import EmailParameters
from shared.domain.send_request import parse_send_request
from shared.domain.senders import SenderChoice, SenderRule
from shared.domain.users import User
from shared.errors import TooLarge

NOW = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
ID = "20261204-3-0000000000aaaaaaaaaa"
REQUEST = parse_send_request(
    {
        "user": "alice",
        "to": ["bob@contoso.com"],
        "bcc": ["audit@contoso.com"],
        "subject": "Hi",
        "body": {"text": "x" * 3000},
    }
)
ALICE = Mailbox("alice@contoso.com", "Alice")


def test_the_same_email_always_has_the_same_size_and_the_limit_is_exact() -> None:
    unlimited = EmailParameters.defaults()
    size = len(compose_mime(REQUEST, ALICE, ID, NOW, unlimited))
    assert len(compose_mime(REQUEST, ALICE, ID, NOW, unlimited)) == size
    at_limit = unlimited.patched({"maxEmailSizeMb": size / 1048576})
    assert len(compose_mime(REQUEST, ALICE, ID, NOW, at_limit)) == size
    with pytest.raises(TooLarge) as refused:
        compose_mime(REQUEST, ALICE, ID, NOW, unlimited.patched({"maxEmailSizeMb": (size - 1) / 1048576}))
    assert refused.value.details == {"sizeBytes": size, "limitBytes": size - 1}


def test_a_sent_message_hides_bcc_and_a_draft_keeps_it_without_a_from() -> None:
    sent = email.message_from_bytes(
        compose_mime(REQUEST, ALICE, ID, NOW, EmailParameters.defaults()), policy=policy.default
    )
    assert (sent["From"], sent["Bcc"], sent["X-Unsent"]) == ("Alice <alice@contoso.com>", None, None)
    assert sent["Message-ID"] == f"<{ID}@contoso.com>" and sent["X-Mailroom-Id"] == ID
    draft = email.message_from_bytes(
        compose_mime(REQUEST, None, ID, NOW, EmailParameters.defaults()), policy=policy.default
    )
    assert (draft["From"], draft["Bcc"], draft["X-Unsent"]) == (None, "audit@contoso.com", "1")


def test_the_first_record_says_who_sends_and_why() -> None:
    sender = SenderChoice(ALICE, "alice@contoso.com", SenderRule.USER_EMAIL)
    record = new_record(REQUEST, User("alice", "alice@contoso.com"), "smtp", sender, ID, NOW, b"x" * 42, Status.QUEUED)
    assert (record.status, record.sender_rule, record.size_bytes, record.bcc) == (
        Status.QUEUED,
        "UserEmail",
        42,
        ("audit@contoso.com",),
    )
