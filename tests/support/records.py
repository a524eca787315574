"""History records for pure tests: one email with sensible defaults, changed where a test cares."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.domain.email_ids import new_email_id
from shared.domain.history import EmailRecord, Status


def an_email(created: datetime, **changes: Any) -> EmailRecord:
    base = EmailRecord(
        id=new_email_id(created),
        status=Status.QUEUED,
        mode="batch",
        provider="smtp",
        user="alice",
        sender="alice@contoso.com",
        sender_rule="UserEmail",
        from_="alice@contoso.com",
        to=("bob@contoso.com",),
        subject="Hi",
        size_bytes=10,
        created_at=created,
    )
    return replace(base, **changes)
