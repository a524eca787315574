"""History filters, RowKey bounds and continuation tokens, and the resend move, on their own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.domain.email_ids import new_email_id, storage_keys
from shared.domain.history import EmailRecord, IllegalTransition, Status
from shared.domain.history_query import (
    Cursor,
    HistoryFilter,
    Position,
    decode_cursor,
    encode_cursor,
    parse_filter,
    parse_top,
)
from shared.errors import InvalidInput
from tests.support.records import an_email

MOMENT = datetime(2026, 12, 4, 10, 30, 15, 250_000, tzinfo=UTC)


def test_a_filter_is_read_from_query_parameters() -> None:
    parsed = parse_filter(
        {"status": "failed, Expired", "user": "alice", "mode": "batch", "since": "2026-12-04T10:30:00+01:00"}
    )
    assert parsed.statuses == (Status.FAILED, Status.EXPIRED)
    assert parsed.equals == (("user", "alice"), ("mode", "batch"))
    assert parsed.since == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    unencoded_plus = parse_filter({"until": "2026-12-04T10:30:00 01:00"})  # "+" decoded as a space
    assert unencoded_plus.until == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert parse_filter({"until": "2026-12-04"}).until == datetime(2026, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "Lost"}, "status"),
        ({"status": []}, "status"),
        ({"provider": "fax"}, "provider"),
        ({"user": ""}, "user"),
        ({"reference": "a\r\nb"}, "reference"),
        ({"since": "soon"}, "since"),
        ({"since": "2026-12-05T00:00:00Z", "until": "2026-12-04T00:00:00Z"}, "since"),
        ({"top": "5"}, "top"),  # top belongs to the listing, not to a filter
    ],
)
def test_a_bad_filter_names_its_field(params: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_filter(params)
    assert raised.value.field == field


def test_top_is_one_to_a_hundred_and_fifty_by_default() -> None:
    assert (parse_top(None), parse_top("7"), parse_top(100)) == (50, 7, 100)
    for bad in ("0", "101", "x", "1.5"):
        with pytest.raises(InvalidInput):
            parse_top(bad)


def test_since_and_until_become_row_key_bounds_that_keep_exactly_their_emails() -> None:
    inside = [MOMENT + timedelta(milliseconds=ms) for ms in (0, 1, 999, 60_000)]
    before, after = MOMENT - timedelta(milliseconds=1), inside[-1] + timedelta(milliseconds=1)
    window = HistoryFilter(since=inside[0], until=inside[-1])
    lowest, stop = window.row_bounds(MOMENT.date()) or ("", None)
    assert stop is not None

    def kept(moment: datetime) -> bool:
        row = storage_keys(new_email_id(moment))[1]
        return lowest <= row < stop

    assert [kept(m) for m in inside] == [True] * 4 and (kept(before), kept(after)) == (False, False)
    assert window.row_bounds(MOMENT.date() - timedelta(days=1)) is None
    assert HistoryFilter(since=MOMENT - timedelta(days=2)).row_bounds(MOMENT.date()) == ("", None)


def test_a_token_round_trips_and_belongs_to_its_filter() -> None:
    query = parse_filter({"user": "alice"})
    for cursor in (Cursor(date(2026, 12, 4)), Cursor(date(2026, 12, 4), Position("0881234567a1b2c3d4e5", 3))):
        assert decode_cursor(encode_cursor(cursor, query), query) == cursor
    token = encode_cursor(Cursor(date(2026, 12, 4)), query)
    for other, wrong in ((parse_filter({"user": "bob"}), token), (query, token[:-3]), (query, "%%%")):
        with pytest.raises(InvalidInput) as raised:
            decode_cursor(wrong, other)
        assert raised.value.field == "continuationToken"


def record(status: Status) -> EmailRecord:
    return an_email(MOMENT, status=status, attempts=6, deferrals=10)


def test_a_resend_is_a_new_attempt_on_the_same_record() -> None:
    later = MOMENT + timedelta(days=40)
    resent = record(Status.EXPIRED).resent(later)
    assert (resent.status, resent.attempts, resent.deferrals, resent.next_attempt_at) == (Status.QUEUED, 6, 0, None)
    assert resent.waiting_since == later and resent.attempt_log[-1].outcome == "Resent"
    assert resent.public()["resentAt"] == later.isoformat().replace("+00:00", "Z")
    for status in (Status.SENT, Status.QUEUED, Status.GENERATED):
        with pytest.raises(IllegalTransition):
            record(status).resent(later)
