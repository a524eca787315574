"""Translates between aiohttp and the azure.functions HTTP types, the way the worker does.

The response goes through `azure.functions.http.HttpResponseConverter`, the worker's own
converter, so Content-Type defaults (`text/plain; charset=utf-8`), header folding and
Set-Cookie handling are the library's, not a reimplementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import azure.functions as func
from aiohttp import web
from azure.functions.http import HttpResponseConverter
from multidict import CIMultiDict, MultiMapping


def joined(values: MultiMapping[str], *, separator: str) -> dict[str, str]:
    """A multi-valued mapping as one string per name, repeated values joined as ASP.NET does."""
    result: dict[str, str] = {}
    for name in values:
        if name not in result:
            result[name] = separator.join(values.getall(name))
    return result


def function_request(
    request: web.Request,
    body: bytes,
    *,
    headers: Mapping[str, str],
    route_params: Mapping[str, str],
) -> func.HttpRequest:
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers={name.lower(): value for name, value in headers.items()},
        params=joined(request.query, separator=","),
        route_params=dict(route_params),
        body=body,
    )


class UnexpectedReturn(TypeError):
    """An HTTP function returned something other than an HttpResponse or a str."""


def web_response(result: Any) -> web.Response:
    try:
        datum = HttpResponseConverter.encode(result, expected_type=None)
    except NotImplementedError:
        raise UnexpectedReturn(
            f"an HTTP function must return func.HttpResponse or str, not {type(result).__name__}"
        ) from None
    if datum.type == "string":
        return web.Response(status=200, body=str(datum.value).encode(), content_type="text/plain", charset="utf-8")
    value = datum.value
    headers = CIMultiDict((name, item.value) for name, item in value["headers"].items())
    for cookie in value.get("cookies") or ():
        for morsel in cookie.values():
            headers.add("Set-Cookie", morsel.OutputString())
    return web.Response(
        status=int(value["status_code"].value),
        body=value["body"].value or b"",
        headers=headers,
    )
