"""ASP.NET Core route templates, which the Functions host uses for HTTP triggers.

Supported: `{name}`, optional `{name?}`, defaults `{name=value}`, constraints `{id:int}`
(see `route_constraints`), catch-all `{*rest}`, several parameters in one segment
(`{file}.{ext}`), `{{`/`}}` for literal braces; literals match case-insensitively. A template
the runtime would refuse is refused here too, when the host starts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from devhost.route_constraints import Constraint, build_constraint


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.constraints)


@dataclass(frozen=True)
class Segment:
    parts: tuple[str | Parameter, ...]

    @property
    def parameter(self) -> Parameter | None:
        only = self.parts[0] if len(self.parts) == 1 else None
        return only if isinstance(only, Parameter) else None

    def match(self, value: str) -> dict[str, str] | None:
        if len(self.parts) == 1:
            part = self.parts[0]
            if isinstance(part, str):
                return {} if part.casefold() == value.casefold() else None
            return {part.name: value} if value and part.accepts(value) else None
        pattern = "".join("(.+)" if isinstance(part, Parameter) else re.escape(part) for part in self.parts)
        found = re.fullmatch(pattern, value, re.IGNORECASE)
        if not found:
            return None
        parameters = [part for part in self.parts if isinstance(part, Parameter)]
        values = dict(zip((p.name for p in parameters), found.groups(), strict=True))
        accepted = all(p.accepts(values[p.name]) for p in parameters)
        return values if accepted else None


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        try:
            segments = tuple(_parse_segment(s) for s in _split(text.strip("/")) if s != "")
            _validate(segments)
        except ValueError as error:
            raise ValueError(f"route template {text!r}: {error}") from None
        return cls(text.strip("/"), segments)

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(path[index:])
                if rest and not parameter.accepts(rest):
                    return None
                if rest or parameter.default is not None:
                    values[parameter.name] = rest or (parameter.default or "")
                return values
            if index >= len(path):
                if parameter is None or not (parameter.optional or parameter.default is not None):
                    return None
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                continue
            found = segment.match(path[index])
            if found is None:
                return None
            values.update(found)
        return values if len(path) <= len(self.segments) else None


def _split(text: str) -> list[str]:
    segments: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "/" and depth == 0:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return segments


def _parse_segment(text: str) -> Segment:
    parts: list[str | Parameter] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        pair = text[index : index + 2]
        if pair in ("{{", "}}"):
            literal.append(pair[0])
            index += 2
        elif text[index] == "{":
            if literal:
                parts.append("".join(literal))
                literal = []
            content, index = _read_parameter(text, index + 1)
            parts.append(_parse_parameter(content))
        elif text[index] == "}":
            raise ValueError("unmatched '}'")
        else:
            literal.append(text[index])
            index += 1
    if literal:
        parts.append("".join(literal))
    return Segment(tuple(parts))


def _read_parameter(text: str, index: int) -> tuple[str, int]:
    content: list[str] = []
    while index < len(text):
        pair = text[index : index + 2]
        if pair in ("{{", "}}"):
            content.append(pair[0])
            index += 2
        elif text[index] == "}":
            return "".join(content), index + 1
        elif text[index] == "{":
            raise ValueError("'{' inside a parameter must be written '{{'")
        else:
            content.append(text[index])
            index += 1
    raise ValueError("unclosed '{'")


def _parse_parameter(content: str) -> Parameter:
    catch_all = content.startswith("*")
    content = content.lstrip("*")
    pieces, current, depth, default = [], "", 0, None
    for index, char in enumerate(content):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char == "=":
            default = content[index + 1 :]
            break
        if depth == 0 and char == ":":
            pieces.append(current)
            current = ""
        else:
            current += char
    pieces.append(current)
    optional = default is None and pieces[-1].endswith("?")
    if optional:
        pieces[-1] = pieces[-1][:-1]
    name = pieces[0].strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
        raise ValueError(f"invalid parameter name {name!r}")
    constraints = tuple(build_constraint(spec) for spec in pieces[1:])
    return Parameter(name, constraints, optional, default, catch_all)


def _validate(segments: tuple[Segment, ...]) -> None:
    names: set[str] = set()
    trailing_optional = False
    for position, segment in enumerate(segments):
        parameters = [p for p in segment.parts if isinstance(p, Parameter)]
        for parameter in parameters:
            if parameter.name.lower() in names:
                raise ValueError(f"parameter {parameter.name!r} appears twice")
            names.add(parameter.name.lower())
            if len(segment.parts) > 1 and (parameter.optional or parameter.catch_all):
                raise ValueError(f"{parameter.name!r} must have its own segment")
            if parameter.catch_all and position != len(segments) - 1:
                raise ValueError(f"catch-all {parameter.name!r} must be the last segment")
        single = segment.parameter
        skippable = single is not None and (single.optional or single.default is not None)
        if trailing_optional and not skippable and not (single and single.catch_all):
            raise ValueError("only optional segments may follow an optional parameter")
        trailing_optional = trailing_optional or skippable
