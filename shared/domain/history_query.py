"""What an administrator asks of the Email history: a filter, a page size and where the last
page stopped. Kept in the domain so that the listing, the bulk resend and the tests share one
meaning of each.

History lives in partitions `<yyyymmdd>-<shard>` whose RowKeys sort newest first (see
`email_ids`), so `since`/`until` become RowKey bounds inside a day and whole days outside it:
the service never asks storage for a row it already knows it does not want.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.domain import validation as v
from shared.domain.email_ids import email_id_from_keys
from shared.domain.history import Status
from shared.errors import InvalidInput

MAX_TOP = 100
DEFAULT_TOP = 50
EQUALITY_FIELDS = ("user", "sender", "provider", "mode", "reference")
FILTER_FIELDS = frozenset({"status", *EQUALITY_FIELDS, "since", "until"})
_CHOICES = {"provider": ("eml", "exchange", "smtp"), "mode": ("interactive", "batch")}
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class HistoryFilter:
    """Every condition is an exact match; several statuses mean any of them."""

    statuses: tuple[Status, ...] = ()
    equals: tuple[tuple[str, str], ...] = ()  # (entity property, value), e.g. ("user", "alice")
    since: datetime | None = None
    until: datetime | None = None

    def fingerprint(self) -> str:
        """Ties a continuation token to the filter it was made for."""
        shown = [sorted(self.statuses), sorted(self.equals), _stamp(self.since), _stamp(self.until)]
        return hashlib.sha256(json.dumps(shown).encode()).hexdigest()[:16]

    def row_bounds(self, day: date) -> tuple[str, str | None] | None:
        """(lowest RowKey, RowKey to stop before) for `day`; None when the day is outside since..until."""
        if (self.since and day < self.since.date()) or (self.until and day > self.until.date()):
            return None
        lowest = f"{_MS_PER_DAY - 1 - _ms_of_day(self.until):08d}" if self.until and self.until.date() == day else ""
        stop = None
        if self.since and self.since.date() == day:
            stop = f"{_MS_PER_DAY - _ms_of_day(self.since):08d}"  # rows of the since-millisecond included
        return lowest, stop


@dataclass(frozen=True, order=True)
class Position:
    """A place in one day's merged order: by RowKey (newest first), then by shard."""

    row: str
    shard: int


@dataclass(frozen=True)
class Cursor:
    day: date
    position: Position | None = None  # None: the day from its newest email


def parse_filter(values: Mapping[str, Any], *, extra: frozenset[str] = frozenset()) -> HistoryFilter:
    """A filter from query parameters or a JSON body; anything unknown or malformed is a 400."""
    v.reject_unknown(dict(values), FILTER_FIELDS | extra)
    equals = []
    for name in EQUALITY_FIELDS:
        if values.get(name) is not None:
            value = v.text(values[name], name, max_length=256, allow_empty=False)
            if name in _CHOICES:
                value = v.choice(value, name, _CHOICES[name])
            equals.append((name, value))
    since, until = _moment(values.get("since"), "since"), _moment(values.get("until"), "until")
    if since and until and since > until:
        raise InvalidInput("since must not be later than until", code="InvalidRange", field="since")
    return HistoryFilter(_statuses(values.get("status")), tuple(equals), since, until)


def parse_top(raw: Any) -> int:
    if raw is None or raw == "":
        return DEFAULT_TOP
    try:
        top = int(raw)
    except (TypeError, ValueError):
        raise v.wrong_type("top", f"a whole number from 1 to {MAX_TOP}") from None
    return v.integer(top, "top", minimum=1, maximum=MAX_TOP)


def encode_cursor(cursor: Cursor, query: HistoryFilter) -> str:
    document: dict[str, Any] = {"d": cursor.day.isoformat(), "f": query.fingerprint()}
    if cursor.position is not None:
        document["r"], document["s"] = cursor.position.row, cursor.position.shard
    return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str, query: HistoryFilter) -> Cursor:
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor = Cursor(
            date.fromisoformat(document["d"]),
            Position(str(document["r"]), int(document["s"])) if "r" in document else None,
        )
        same_filter = document["f"] == query.fingerprint()
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise InvalidInput(
            "continuationToken is not one this API gave out", code="InvalidContinuationToken", field="continuationToken"
        ) from None
    if not same_filter:
        raise InvalidInput(
            "continuationToken belongs to a different filter: ask again with the same filter, or without the token",
            code="InvalidContinuationToken",
            field="continuationToken",
        )
    return cursor


def day_key(day: date) -> str:
    return f"{day:%Y%m%d}"


def day_of_key(text: str) -> date:
    return datetime.strptime(text[:8], "%Y%m%d").replace(tzinfo=UTC).date()


def previous_day(day: date) -> date:
    return day - timedelta(days=1)


def _statuses(raw: Any) -> tuple[Status, ...]:
    if raw is None:
        return ()
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names:
        raise v.wrong_type("status", "a status or a comma-separated list of statuses")
    known = {status.value.casefold(): status for status in Status}
    chosen = [known.get(str(name).strip().casefold()) for name in names]
    if None in chosen:
        raise InvalidInput(
            f"status must be among {', '.join(s.value for s in Status)}", code="InvalidChoice", field="status"
        )
    return tuple(dict.fromkeys(status for status in chosen if status is not None))


def _moment(raw: Any, field: str) -> datetime | None:
    if raw is None:
        return None
    text = v.text(raw, field, max_length=40, allow_empty=False).strip()
    # an unencoded "+02:00" in a query string arrives as " 02:00"
    for candidate in (text, re.sub(r" (\d{2}:\d{2})$", r"+\1", text)):
        try:
            moment = datetime.fromisoformat(candidate)
            break
        except ValueError:
            continue
    else:
        raise InvalidInput(
            f"{field} must be an ISO 8601 date-time such as 2026-12-04T10:30:00Z", code="InvalidDateTime", field=field
        )
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _ms_of_day(moment: datetime) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000 + moment.microsecond // 1000


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class Row:
    """A history entity as a purge or a count sees it: its keys and the few properties they need."""

    partition: str
    row: str
    etag: str
    status: Status
    created_at: datetime
    resent_at: datetime | None
    user: str
    idempotency_key: str | None

    @property
    def email_id(self) -> str:
        return email_id_from_keys(self.partition, self.row)

    @property
    def waiting_since(self) -> datetime:
        return self.resent_at or self.created_at


@dataclass(frozen=True)
class RowRange:
    """RowKeys from `lowest` (inclusive unless `after`) up to, not including, `stop`."""

    lowest: str = ""
    after: bool = False
    stop: str | None = None


WHOLE_PARTITION = RowRange()
