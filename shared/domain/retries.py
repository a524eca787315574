"""When a transiently failed email is tried again: exponential backoff, capped, and never
sooner than the provider asked (Retry-After)."""

from __future__ import annotations

MAX_DELAY_SECONDS = 3600.0


def retry_delay(attempt: int, *, base_seconds: float, retry_after_seconds: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first)."""
    backoff = min(MAX_DELAY_SECONDS, base_seconds * 2 ** max(0, attempt - 1))
    return max(backoff, retry_after_seconds or 0.0)
