"""Throttle arithmetic: windows, limits, the plan and the admission rule."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.history import EmailRecord
from shared.domain.parameters import EmailParameters
from shared.domain.throttle import (
    Admission,
    admission,
    arrival_key,
    limit_for,
    make_plan,
    throttle_key,
    wake_delay,
    window_index,
    window_start,
)
from shared.errors import InvalidInput
from tests.support.records import an_email

NOW = datetime(2026, 12, 4, 21, 30, 42, tzinfo=UTC)


def batch(created: datetime, *, priority: str = "normal", deferrals: int = 0) -> EmailRecord:
    return an_email(created, sender="erp@contoso.com", priority=priority, deferrals=deferrals)


def test_windows_are_calendar_minutes_in_production_and_shorter_in_tests() -> None:
    assert window_start(window_index(NOW, 60), 60) == datetime(2026, 12, 4, 21, 30, tzinfo=UTC)
    assert window_start(window_index(NOW, 2), 2) == datetime(2026, 12, 4, 21, 30, 42, tzinfo=UTC)


def test_limits_per_provider_with_exchange_automatic_per_mailbox() -> None:
    off = EmailParameters.defaults()
    assert limit_for(off, "smtp") is None and limit_for(off, "exchange") is None
    on = off.patched({"throttling": {"enabled": True, "perMinuteLimits": {"smtp": 100}}})
    assert limit_for(on, "smtp") == 100 and limit_for(on, "exchange") == 30
    assert limit_for(on.patched({"throttling": {"perMinuteLimits": {"exchange": 0, "smtp": 0}}}), "exchange") == 30
    assert limit_for(on.patched({"throttling": {"perMinuteLimits": {"smtp": 0}}}), "smtp") is None
    with pytest.raises(InvalidInput) as refused:
        on.patched({"throttling": {"perMinuteLimits": {"exchange": 31}}})
    assert refused.value.field == "throttling.perMinuteLimits.exchange"
    assert throttle_key("exchange", "ERP@Contoso.com") == "exchange:erp@contoso.com"
    assert throttle_key("smtp", "erp@contoso.com") == "smtp"


def test_the_backlog_is_ordered_by_priority_then_arrival() -> None:
    first, second = batch(NOW), batch(NOW + timedelta(milliseconds=5))
    urgent = batch(NOW + timedelta(seconds=10), priority="high")
    assert sorted([arrival_key(second), arrival_key(urgent), arrival_key(first)]) == [
        arrival_key(urgent),
        arrival_key(first),
        arrival_key(second),
    ]


def test_the_plan_cuts_the_backlog_into_groups_of_the_limit() -> None:
    keys = [f"1{i:014d}" for i in range(7)]
    plan = make_plan(keys, limit=3, first_window=100)
    assert [plan.planned_window(k) for k in keys] == [100, 100, 100, 101, 101, 101, 102]
    assert plan.planned_window("1" + "9" * 14) is None and plan.last_window == 102
    many = make_plan([f"1{i:014d}" for i in range(100)], limit=2, first_window=0)
    assert len(many.boundaries) == 11  # further than ten deferrals ahead is forced anyway


def test_admission_follows_the_plan_and_forces_after_ten_deferrals() -> None:
    early, late, newcomer = batch(NOW), batch(NOW + timedelta(seconds=1)), batch(NOW + timedelta(seconds=9))
    plan = make_plan([arrival_key(early), arrival_key(late)], limit=1, first_window=10)
    assert admission(early, plan, 10)[0] is Admission.TRY
    assert admission(late, plan, 10)[0] is Admission.WAIT
    assert admission(late, plan, 11)[0] is Admission.TRY
    assert admission(newcomer, plan, 10)[0] is Admission.WAIT  # joins the line behind the backlog
    assert admission(newcomer, plan, 12)[0] is Admission.TRY  # the plan is used up: contend
    assert admission(newcomer, None, 10)[0] is Admission.TRY
    assert admission(replace(late, deferrals=10), plan, 10)[0] is Admission.FORCE


@pytest.mark.parametrize("second", [0.0, 0.5, 30.0, 59.9])
@pytest.mark.parametrize("rank", [0.0, 0.5, 1.0])
def test_a_deferred_email_wakes_in_the_next_window_never_more_than_one_window_later(second: float, rank: float) -> None:
    now = datetime(2026, 12, 4, 21, 30, tzinfo=UTC) + timedelta(seconds=second)
    delay = wake_delay(now, window_seconds=60, rank_in_window=rank)
    assert timedelta(0) < delay <= timedelta(seconds=60)
    assert window_index(now + delay, 60) == window_index(now, 60) + 1
