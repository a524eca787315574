"""Route templates match paths as the Functions host (ASP.NET Core routing) does."""

from __future__ import annotations

import pytest

from devhost.catalog import HttpFunction
from devhost.route_template import RouteTemplate
from devhost.routes import MethodNotAllowed, Route, RouteMatch, RouteTable


def match(template: str, path: str) -> dict[str, str] | None:
    return RouteTemplate.parse(template).match([s for s in path.strip("/").split("/") if s])


def test_parameters_are_captured_by_name() -> None:
    assert match("users/{userId}/options", "users/u-42/options") == {"userId": "u-42"}
    assert match(
        "templates/organization/{company}/{templateId}/{language}", "templates/organization/USMF/welcome/en-us"
    ) == {"company": "USMF", "templateId": "welcome", "language": "en-us"}


def test_literal_segments_ignore_case_and_values_keep_theirs() -> None:
    assert match("api/Emails/{id}", "API/emails/AbC") == {"id": "AbC"}
    assert match("api/emails", "api/email") is None


def test_optional_parameter_may_be_absent_and_is_then_left_out() -> None:
    assert match("reports/{year?}", "reports") == {}
    assert match("reports/{year?}", "reports/2024") == {"year": "2024"}
    assert match("reports/{year?}", "reports/2024/extra") is None


def test_default_value_fills_a_missing_segment() -> None:
    assert match("pages/{page=1}", "pages") == {"page": "1"}


def test_catch_all_takes_the_rest_of_the_path() -> None:
    assert match("files/{*path}", "files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert match("files/{*path}", "files") == {}


def test_several_parameters_in_one_segment() -> None:
    assert match("download/{name}.{ext}", "download/report.final.pdf") == {"name": "report.final", "ext": "pdf"}


@pytest.mark.parametrize(
    ("template", "accepted", "refused"),
    [
        ("{v:int}", ["42", "-7"], ["4.2", "abc", "99999999999"]),
        ("{v:long}", ["99999999999"], ["x"]),
        ("{v:alpha}", ["Status"], ["st4tus"]),
        ("{v:bool}", ["TRUE", "false"], ["yes"]),
        ("{v:guid}", ["8a3b4c0e-1f2a-4b5c-9d6e-7f8091a2b3c4"], ["status"]),
        ("{v:int:min(1)}", ["1"], ["0"]),
        ("{v:range(1,10)}", ["10"], ["11"]),
        ("{v:length(2)}", ["en"], ["eng"]),
        ("{v:length(2,5)}", ["en-us"], ["e", "en-us-x"]),
        ("{v:maxlength(3)}", ["abc"], ["abcd"]),
        ("{v:regex(^[a-z]{{2}}-[a-z]{{2}}$)}", ["en-US"], ["english"]),
    ],
)
def test_constraints_decide_whether_the_route_matches(template: str, accepted: list[str], refused: list[str]) -> None:
    for value in accepted:
        assert match(template, value) == {"v": value}, value
    for value in refused:
        assert match(template, value) is None, value


@pytest.mark.parametrize(
    "template",
    ["a/{id:nosuch}", "a/{id}/{id}", "a/{id?}/b", "a/{*rest}/b", "a/{unclosed", "a/{x?}.{y}"],
)
def test_invalid_templates_are_refused_at_start_up(template: str) -> None:
    with pytest.raises(ValueError, match="route template"):
        RouteTemplate.parse(template)


def _function(name: str, route: str, methods: set[str]) -> HttpFunction:
    return HttpFunction(
        name=name,
        user_function=lambda req: None,
        trigger_argument="req",
        wants_context=False,
        route=route,
        methods=frozenset(methods),
        auth_level="anonymous",
    )


def _table(*functions: HttpFunction) -> RouteTable:
    return RouteTable([Route(RouteTemplate.parse(f"api/{f.route}"), f) for f in functions])


def test_first_route_in_order_wins_even_over_a_literal_like_on_azure() -> None:
    table = _table(
        _function("email_by_id", "emails/{id}", {"GET"}), _function("email_status", "emails/status", {"GET"})
    )
    found = table.resolve("GET", "/api/emails/status")
    assert isinstance(found, RouteMatch)
    assert found.route.function.name == "email_by_id"
    assert [(a.function.name, b.function.name) for a, b in table.shadowed()] == [("email_by_id", "email_status")]


def test_a_route_without_the_method_lets_a_later_route_answer() -> None:
    table = _table(_function("create", "emails/{id}", {"POST"}), _function("read", "emails/{id}", {"GET"}))
    found = table.resolve("GET", "/api/emails/7")
    assert isinstance(found, RouteMatch) and found.route.function.name == "read"
    assert table.shadowed() == []


def test_path_match_without_method_is_405_with_the_allowed_methods() -> None:
    table = _table(_function("read", "emails/{id}", {"GET", "PATCH"}))
    assert table.resolve("DELETE", "/api/emails/7") == MethodNotAllowed(frozenset({"GET", "PATCH"}))
    assert table.resolve("GET", "/api/nothing/here") is None


def test_encoded_slash_stays_inside_its_segment() -> None:
    table = _table(_function("read", "refs/{reference}", set()))
    found = table.resolve("GET", "/api/refs/CustTable%2FUS-008")
    assert isinstance(found, RouteMatch)
    assert found.values == {"reference": "CustTable/US-008"}
