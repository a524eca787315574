"""Small checks on decoded JSON values; each failure names the field and the rule."""

from __future__ import annotations

import re
from typing import Any

from shared.errors import InvalidInput

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def wrong_type(field: str, expected: str) -> InvalidInput:
    return InvalidInput(f"{field} must be {expected}", code="InvalidType", field=field)


def require_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise wrong_type(field, "a JSON object")
    return value


def reject_unknown(document: dict[str, Any], known: set[str] | frozenset[str], prefix: str = "") -> None:
    for name in document:
        if name not in known:
            field = f"{prefix}{name}"
            raise InvalidInput(
                f"{field} is not a field this request takes; known fields: {', '.join(sorted(known))}",
                code="UnknownField",
                field=field,
            )


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise wrong_type(field, "true or false")
    return value


def integer(value: Any, field: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(field, "a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" to {maximum}" if maximum is not None else " or more"
        raise InvalidInput(f"{field} must be from {minimum}{upper}, not {value}", code="OutOfRange", field=field)
    return value


def number(value: Any, field: str, *, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(field, "a number")
    if not minimum <= value <= maximum:
        raise InvalidInput(
            f"{field} must be from {minimum:g} to {maximum:g}, not {value}", code="OutOfRange", field=field
        )
    return float(value)


def text(value: Any, field: str, *, max_length: int, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise wrong_type(field, "a string")
    if _CONTROL.search(value):
        raise InvalidInput(
            f"{field} contains a line break or control character, which is not allowed",
            code="HeaderInjection",
            field=field,
        )
    if not allow_empty and not value.strip():
        raise InvalidInput(f"{field} must not be empty", code="Required", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} must have at most {max_length} characters", code="TooLong", field=field)
    return value


def choice(value: Any, field: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InvalidInput(
            f"{field} must be one of {', '.join(options)}, not {value!r}", code="InvalidChoice", field=field
        )
    return str(value)


def host_name(value: Any, field: str) -> str:
    host = text(value, field, max_length=253)
    if host and not (all(_HOST_LABEL.match(label) for label in host.split("."))):
        raise InvalidInput(
            f"{field}: {host!r} is not a valid host name or IPv4 address",
            code="InvalidHostName",
            field=field,
        )
    return host
