"""The Email history over real storage: newest first across shards and days, every filter, pages
that neither lose nor repeat an email, and a bounded amount of work per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.history_queries import TableHistoryQueries
from shared.domain.email_ids import storage_keys
from shared.domain.history import EmailRecord
from shared.errors import InvalidInput
from shared.services.history import EmailHistory
from tests.support.builders import Stack
from tests.support.history_builders import accept_at, dispatch, history_stack, record

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def stack(storage: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with history_stack(storage, tmp_path) as built:
        yield built


def merged_order(email_id: str) -> tuple[int, str, int]:
    """Newest day first, then by RowKey (newest first), then by shard: the order the API promises."""
    partition, row = storage_keys(email_id)
    return -int(partition[:8]), row, int(partition[9:])


async def all_pages(stack: Stack, top: int, **filters: Any) -> list[list[str]]:
    pages, params = [], {"top": str(top), **filters}
    while True:
        stack.clock.now = NOW
        answer = await stack.email_history.search(params)
        pages.append([item["id"] for item in answer["items"]])
        if "continuationToken" not in answer:
            return pages
        params["continuationToken"] = answer["continuationToken"]


async def test_pages_walk_shards_and_days_newest_first_without_loss_or_repeat(stack: Stack) -> None:
    moments = [NOW - timedelta(days=d, minutes=7 * i) for d in (0, 1, 3) for i in range(9)]
    same_millisecond = [NOW - timedelta(hours=2)] * 6  # same RowKey prefix in several shards
    ids = [await accept_at(stack, when) for when in moments + same_millisecond]
    pages = await all_pages(stack, top=7)
    listed = [email_id for page in pages for email_id in page]
    assert listed == sorted(ids, key=merged_order)
    assert all(len(page) == 7 for page in pages[:-1]) and len(pages) == -(-len(ids) // 7), [len(p) for p in pages]


async def test_items_are_whole_records_and_the_last_page_has_no_token(stack: Stack) -> None:
    email_id = await accept_at(stack, NOW - timedelta(minutes=1), reference="CustTable/US-008")
    stack.clock.now = NOW
    answer = await stack.email_history.search({})
    assert "continuationToken" not in answer and "scanLimited" not in answer
    assert answer["items"] == [(await record(stack, email_id)).public()]


async def test_each_filter_selects_exactly_its_emails(stack: Stack) -> None:
    await stack.configuration.put_user("bob", {"email": "bob@contoso.com"})
    await stack.configuration.patch_user_options("bob", {"senderEmail": "sales@contoso.com"}, may_set_sender=True)
    made: list[EmailRecord] = []
    for i, (user, mode, outcome) in enumerate(
        [
            ("alice", "interactive", "Sent"),
            ("bob", "batch", "Failed"),
            ("alice", "batch", None),
            ("bob", "interactive", "Sent"),
        ]
    ):
        email_id = await accept_at(stack, NOW - timedelta(hours=5 * i), user=user, mode=mode, reference=f"SO-{i % 2}")
        made.append(await dispatch(stack, email_id, outcome) if outcome else await record(stack, email_id))
    made.append(await record(stack, await accept_at(stack, NOW - timedelta(days=2), provider="eml")))

    def expect(keep: Any) -> list[str]:
        return sorted((r.id for r in made if keep(r)), key=merged_order)

    cases: list[tuple[dict[str, str], Any]] = [
        ({"status": "Sent"}, lambda r: r.status == "Sent"),
        ({"status": "failed,Generated"}, lambda r: r.status in ("Failed", "Generated")),
        ({"user": "bob"}, lambda r: r.user == "bob"),
        ({"sender": "sales@contoso.com"}, lambda r: r.sender == "sales@contoso.com"),
        ({"provider": "eml"}, lambda r: r.provider == "eml"),
        ({"mode": "batch"}, lambda r: r.mode == "batch"),
        ({"reference": "SO-1"}, lambda r: r.reference == "SO-1"),
        ({"since": (NOW - timedelta(hours=10)).isoformat()}, lambda r: r.created_at >= NOW - timedelta(hours=10)),
        ({"until": (NOW - timedelta(hours=5)).isoformat()}, lambda r: r.created_at <= NOW - timedelta(hours=5)),
        ({"user": "alice", "mode": "batch", "status": "Queued"}, lambda r: r.id == made[2].id),
    ]
    assert {r.sender for r in made if r.user == "bob"} == {"sales@contoso.com"}
    for filters, keep in cases:
        listed = [email_id for page in await all_pages(stack, top=2, **filters) for email_id in page]
        assert listed == expect(keep) and listed, filters


async def test_a_filter_that_matches_little_is_bounded_and_says_so(stack: Stack) -> None:
    old = await accept_at(stack, NOW - timedelta(days=6), reference="rare")
    await accept_at(stack, NOW, reference="common")
    stack.clock.now = NOW
    bounded = EmailHistory(queries=TableHistoryQueries(stack.tables), clock=stack.clock, scan_budget=16)
    params: dict[str, str] = {"reference": "rare"}
    answers = []
    while True:
        answer = await bounded.search(params)
        answers.append(answer)
        if "continuationToken" not in answer:
            break
        params["continuationToken"] = answer["continuationToken"]
    assert answers[0]["items"] == [] and answers[0]["scanLimited"] is True and "continuationToken" in answers[0]
    assert "narrow since/until" in answers[0]["message"]
    assert [item["id"] for answer in answers for item in answer["items"]] == [old]
    assert len(answers) == 4  # two days per request of 16 round trips: today back to six days ago


async def test_bad_parameters_and_a_token_of_another_filter_are_400(stack: Stack) -> None:
    for _ in range(3):
        await accept_at(stack, NOW)
    stack.clock.now = NOW
    first = await stack.email_history.search({"top": "1"})
    token = first["continuationToken"]
    cases = [
        ({"top": "101"}, "top"),
        ({"top": "x"}, "top"),
        ({"status": "Lost"}, "status"),
        ({"mode": "urgent"}, "mode"),
        ({"since": "yesterday"}, "since"),
        ({"since": NOW.isoformat(), "until": (NOW - timedelta(days=1)).isoformat()}, "since"),
        ({"colour": "red"}, "colour"),
        ({"continuationToken": "not-a-token"}, "continuationToken"),
        ({"continuationToken": token, "user": "bob"}, "continuationToken"),
    ]
    for params, field in cases:
        with pytest.raises(InvalidInput) as raised:
            await stack.email_history.search(params)
        assert raised.value.field == field, params
