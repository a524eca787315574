"""Small domain rules: ids, access, sender choice, status transitions, retry delays."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.access import Permission, Role, authorize
from shared.domain.addresses import parse_address
from shared.domain.email_ids import new_email_id, storage_keys
from shared.domain.history import EmailRecord, IllegalTransition, Status
from shared.domain.retries import MAX_DELAY_SECONDS, retry_delay
from shared.domain.senders import SenderRule, choose_sender
from shared.domain.users import User
from shared.errors import CannotHonour, NotAuthenticated, NotFound, NotPermitted
from tests.support.records import an_email

NOW = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)


def test_email_ids_carry_their_day_partition_and_sort_newest_first() -> None:
    earlier, later = new_email_id(NOW), new_email_id(NOW + timedelta(seconds=5))
    partition, row = storage_keys(earlier)
    assert partition.startswith("20261204-") and earlier == f"{partition}-{row}"
    assert storage_keys(later)[1] < row  # row keys ascend, so the newer one comes first


@pytest.mark.parametrize("bad", ["", "x", "20261204-9-0000000000000000aa", "../etc", "20261204-1-abc"])
def test_an_id_that_cannot_be_ours_is_not_found(bad: str) -> None:
    with pytest.raises(NotFound):
        storage_keys(bad)


def test_roles_grant_what_spec_says() -> None:
    assert authorize(["Mail.Admin"], Permission.CONFIGURE) == {Role.ADMIN}
    assert authorize(["Mail.Send"], Permission.SEND) == {Role.SEND}
    assert authorize(["Mail.Send"], Permission.READ_EMAIL) == {Role.SEND}
    with pytest.raises(NotPermitted):
        authorize(["Mail.Send"], Permission.CONFIGURE)
    with pytest.raises(NotPermitted):
        authorize(["Something.Else"], Permission.SEND)
    with pytest.raises(NotAuthenticated):
        authorize(None, Permission.SEND)


ALICE = User(user_id="alice", email="alice@contoso.com", name="Alice")


def test_sender_defaults_to_the_override_then_the_users_own_address() -> None:
    own = choose_sender(requested=None, user=ALICE, batch_through_exchange=False, batch_account=None)
    assert (own.sender, own.rule) == ("alice@contoso.com", SenderRule.USER_EMAIL)
    override = User(user_id="alice", email="alice@contoso.com", sender_email="sales@contoso.com")
    chosen = choose_sender(requested=None, user=override, batch_through_exchange=False, batch_account=None)
    assert (chosen.sender, chosen.rule) == ("sales@contoso.com", SenderRule.USER_SENDER_EMAIL)
    explicit = choose_sender(
        requested=parse_address("SALES@contoso.com", "from"),
        user=override,
        batch_through_exchange=False,
        batch_account=None,
    )
    assert explicit.rule == SenderRule.REQUEST_FROM


def test_a_from_the_user_may_not_send_as_is_refused_in_the_erps_words() -> None:
    with pytest.raises(NotPermitted) as refused:
        choose_sender(
            requested=parse_address("ceo@contoso.com", "from"),
            user=ALICE,
            batch_through_exchange=False,
            batch_account=None,
        )
    assert refused.value.message.startswith("Client does not have permissions to send as this sender")
    assert refused.value.field == "from"


def test_batch_email_through_exchange_is_sent_by_the_batch_account() -> None:
    chosen = choose_sender(requested=None, user=ALICE, batch_through_exchange=True, batch_account="erp@contoso.com")
    assert (chosen.sender, chosen.rule) == ("erp@contoso.com", SenderRule.EXCHANGE_BATCH_ACCOUNT)
    with pytest.raises(CannotHonour):
        choose_sender(requested=None, user=ALICE, batch_through_exchange=True, batch_account=None)


def record(status: Status) -> EmailRecord:
    return an_email(
        NOW,
        status=status,
        mode="interactive",
        to=("Bob <bob@contoso.com>",),
        cc=("bob@contoso.com",),
        bcc=("carol@contoso.com",),
    )


def test_status_moves_only_forward() -> None:
    sending = record(Status.QUEUED).moved_to(Status.SENDING, NOW)
    assert sending.moved_to(Status.SENT, NOW).status is Status.SENT
    with pytest.raises(IllegalTransition):
        record(Status.SENT).moved_to(Status.SENDING, NOW)
    with pytest.raises(IllegalTransition):
        record(Status.QUEUED).moved_to(Status.SENT, NOW)
    assert record(Status.FAILED).moved_to(Status.QUEUED, NOW).status is Status.QUEUED  # resend


def test_envelope_recipients_are_bare_and_unique() -> None:
    assert record(Status.QUEUED).envelope_recipients == ("bob@contoso.com", "carol@contoso.com")


def test_retry_delay_backs_off_caps_and_honours_retry_after() -> None:
    assert [retry_delay(n, base_seconds=60) for n in (1, 2, 3)] == [60, 120, 240]
    assert retry_delay(30, base_seconds=60) == MAX_DELAY_SECONDS
    assert retry_delay(1, base_seconds=60, retry_after_seconds=300) == 300
