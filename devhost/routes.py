"""The route table that picks a function for a request path.

Routes are tried in the order given. The Functions host registers routes in function name
order and takes the first that matches — it does NOT prefer `emails/status` over
`emails/{id}` as ASP.NET would — so the host passes functions sorted by name, and
`shadowed()` names the literal routes an earlier route hides, to be warned about at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from devhost.catalog import HttpFunction
from devhost.route_template import RouteTemplate


@dataclass(frozen=True)
class Route:
    template: RouteTemplate
    function: HttpFunction

    def allows(self, method: str) -> bool:
        return not self.function.methods or method.upper() in self.function.methods


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    values: dict[str, str]


@dataclass(frozen=True)
class MethodNotAllowed:
    allowed: frozenset[str]


class RouteTable:
    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = tuple(routes)

    def resolve(self, method: str, raw_path: str) -> RouteMatch | MethodNotAllowed | None:
        """The first route whose template and method match; else why nothing did."""
        path = split_path(raw_path)
        allowed: set[str] = set()
        for route in self._routes:
            values = route.template.match(path)
            if values is None:
                continue
            if route.allows(method):
                return RouteMatch(route, values)
            allowed |= route.function.methods
        return MethodNotAllowed(frozenset(allowed)) if allowed else None

    def shadowed(self) -> list[tuple[Route, Route]]:
        """(earlier, hidden) pairs: a literal route an earlier route answers for the same method."""
        pairs = []
        for position, hidden in enumerate(self._routes):
            literal = [s.parts[0] for s in hidden.template.segments if s.parameter is None]
            if len(literal) != len(hidden.template.segments) or any(not isinstance(p, str) for p in literal):
                continue
            path = [str(p) for p in literal]
            for earlier in self._routes[:position]:
                overlap = (
                    not earlier.function.methods
                    or not hidden.function.methods
                    or earlier.function.methods & hidden.function.methods
                )
                if overlap and earlier.template.match(path) is not None:
                    pairs.append((earlier, hidden))
                    break
        return pairs


def split_path(raw_path: str) -> list[str]:
    """Percent-decoded path segments; an encoded `/` (%2F) stays inside its segment."""
    trimmed = raw_path.strip("/")
    return [unquote(segment) for segment in trimmed.split("/")] if trimmed else []
