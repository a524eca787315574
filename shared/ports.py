"""The small ports the services depend on; adapters implement them, tests may fake them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.domain.delivery import DeliveryResult
from shared.domain.history import EmailRecord
from shared.domain.outgoing import OutgoingEmail, SmtpServer
from shared.domain.throttle import Plan
from shared.domain.users import User


class StaleWrite(Exception):
    """Someone else changed the entity since it was read (an ETag mismatch)."""


class AlreadyExists(Exception):
    pass


class ParameterStore(Protocol):
    async def load(self) -> tuple[dict[str, object], str | None]: ...

    async def save(self, document: dict[str, object], etag: str | None) -> None: ...


class UserStore(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def put(self, user: User) -> None: ...

    async def delete(self, user_id: str) -> bool: ...


class HistoryStore(Protocol):
    async def add(self, record: EmailRecord) -> str: ...

    async def get(self, email_id: str) -> tuple[EmailRecord, str] | None: ...

    async def replace(self, record: EmailRecord, etag: str) -> str: ...

    async def delete(self, email_id: str) -> None: ...


class ContentStore(Protocol):
    async def put(self, email_id: str, mime: bytes) -> None: ...

    async def get(self, email_id: str) -> bytes | None: ...

    async def delete(self, email_id: str) -> None: ...


class EmailQueue(Protocol):
    async def enqueue(self, queue: str, body: dict[str, object], *, delay_seconds: float = 0) -> None: ...


class SecretStore(Protocol):
    async def get(self, name: str) -> str | None: ...

    async def set(self, name: str, value: str) -> None: ...

    async def delete(self, name: str) -> None: ...

    def forget(self, name: str) -> None:
        """Drop a cached value, so the next get() reads the store again (e.g. after a rotation)."""


class MailTransport(Protocol):
    """SMTP: never raises for provider trouble; the result says what happened."""

    async def send(self, email: OutgoingEmail, server: SmtpServer) -> DeliveryResult: ...


class ExchangeTransport(Protocol):
    """Exchange through Microsoft Graph: sends as `mailbox`; never raises for provider trouble."""

    async def send(self, email: OutgoingEmail, *, mailbox: str) -> DeliveryResult: ...


class MailboxPauses(Protocol):
    """Exchange mailboxes Graph throttled (429), shared by every instance: none sends before `until`."""

    async def paused_until(self, mailbox: str) -> datetime | None: ...

    async def pause(self, mailbox: str, until: datetime) -> None: ...


class IdempotencyStore(Protocol):
    async def claim(self, user: str, key: str, email_id: str, fingerprint: str) -> tuple[str, str] | None:
        """Claims `key` for `email_id`; None if claimed now, else the (email id, fingerprint) that holds it."""
        ...

    async def release(self, user: str, key: str) -> None: ...


class ThrottleStore(Protocol):
    async def take_slot(self, key: str, window: int, limit: int, *, force: bool = False) -> bool: ...

    async def take_slots(self, key: str, window: int, limit: int, want: int, *, force: bool = False) -> int: ...

    async def used(self, key: str, window: int) -> int: ...

    async def add_recipients(self, key: str, day: str, count: int) -> int: ...

    async def plan(self, key: str) -> Plan | None: ...

    async def save_plan(self, key: str, plan: Plan | None) -> None: ...

    async def join_backlog(self, key: str, arrival: str, email_id: str, at: datetime) -> None: ...

    async def leave_backlog(self, key: str, arrival: str) -> None: ...

    async def backlog(self, key: str, first: int, *, live_since: datetime) -> list[str]: ...

    async def keys(self) -> set[str]: ...

    async def remove_counters_before(self, key: str, window: int, day: str) -> int: ...
