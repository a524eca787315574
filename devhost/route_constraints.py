"""ASP.NET Core inline route constraints (`{id:int}`, `{name:alpha}`, `{code:length(3)}`),
which the Functions host uses to decide whether a route matches at all.

A value that fails a constraint makes the route not match (404 or another route), it never
reaches the function — so a `{id:guid}` route cannot be hit with "status".
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import datetime

Constraint = Callable[[str], bool]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_ALPHA = re.compile(r"^[a-z]*$", re.IGNORECASE)
_CALL = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<arguments>.*)\))?$", re.DOTALL)


def build_constraint(spec: str) -> Constraint:
    """The predicate for one constraint such as `int`, `min(1)` or `regex(^\\d+$)`."""
    call = _CALL.match(spec.strip())
    if not call:
        raise ValueError(f"route constraint {spec!r} is not of the form name or name(arguments)")
    name, arguments = call["name"].lower(), call["arguments"]
    if name == "regex":
        if arguments is None:
            raise ValueError("route constraint regex needs a pattern: regex(...)")
        pattern = re.compile(arguments, re.IGNORECASE)
        return lambda value: pattern.search(value) is not None
    numbers = _numbers(arguments, spec)
    if name in _SIMPLE:
        _expect(numbers, 0, spec)
        return _SIMPLE[name]
    if name in ("min", "max", "minlength", "maxlength"):
        (bound,) = _expect(numbers, 1, spec)
        return _BOUNDED[name](bound)
    if name == "range":
        low, high = _expect(numbers, 2, spec)
        return lambda value: _in_range(value, _INT64) and low <= int(value) <= high
    if name == "length":
        if len(numbers) == 1:
            return lambda value: len(value) == numbers[0]
        low, high = _expect(numbers, 2, spec)
        return lambda value: low <= len(value) <= high
    raise ValueError(f"unknown route constraint {name!r}")


def _numbers(arguments: str | None, spec: str) -> list[int]:
    if not arguments:
        return []
    try:
        return [int(part) for part in arguments.split(",")]
    except ValueError:
        raise ValueError(f"route constraint {spec!r} takes integer arguments") from None


def _expect(numbers: list[int], count: int, spec: str) -> list[int]:
    if len(numbers) != count:
        raise ValueError(f"route constraint {spec!r} takes {count} argument(s)")
    return numbers


def _in_range(value: str, bounds: tuple[int, int]) -> bool:
    return bool(_INTEGER.match(value)) and bounds[0] <= int(value) <= bounds[1]


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_SIMPLE: dict[str, Constraint] = {
    "int": lambda value: _in_range(value, _INT32),
    "long": lambda value: _in_range(value, _INT64),
    "alpha": lambda value: bool(_ALPHA.match(value)),
    "bool": lambda value: value.lower() in ("true", "false"),
    "guid": _is_guid,
    "datetime": _is_datetime,
    "decimal": _is_number,
    "double": _is_number,
    "float": _is_number,
    "required": lambda value: value != "",
}

_BOUNDED: dict[str, Callable[[int], Constraint]] = {
    "min": lambda bound: lambda value: _in_range(value, _INT64) and int(value) >= bound,
    "max": lambda bound: lambda value: _in_range(value, _INT64) and int(value) <= bound,
    "minlength": lambda bound: lambda value: len(value) >= bound,
    "maxlength": lambda bound: lambda value: len(value) <= bound,
}
