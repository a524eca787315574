"""Plays the platform in front of the app: function keys and App Service Authentication.

On Azure, a request reaches a `function`-level route only with a valid function key, and the
app learns who called from the `X-MS-CLIENT-PRINCIPAL*` headers, which the platform writes and
never lets a client supply. Locally, `MAILROOM_ADMIN_KEY` and `MAILROOM_APP_KEY` stand for
those credentials: a key holder becomes a principal with role `Mail.Admin` or `Mail.Send`.
`admin`-level routes need the admin key, as they need the master key on Azure.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

ADMIN_KEY_SETTING = "MAILROOM_ADMIN_KEY"
APP_KEY_SETTING = "MAILROOM_APP_KEY"
AUTH_ENABLED_SETTING = "WEBSITE_AUTH_ENABLED"
KEY_HEADER = "x-functions-key"
KEY_QUERY_PARAMETER = "code"
PRINCIPAL_HEADER_PREFIX = "x-ms-client-principal"


@dataclass(frozen=True)
class KeyHolder:
    name: str
    role: str
    is_admin: bool


ADMIN = KeyHolder("admin", "Mail.Admin", is_admin=True)
APPLICATION = KeyHolder("application", "Mail.Send", is_admin=False)


class KeyRing:
    """The keys the host accepts and whom each one stands for."""

    def __init__(self, *, admin_key: str | None, app_key: str | None) -> None:
        self._keys = [(key.encode(), holder) for key, holder in ((admin_key, ADMIN), (app_key, APPLICATION)) if key]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        source = os.environ if environ is None else environ
        return cls(admin_key=source.get(ADMIN_KEY_SETTING), app_key=source.get(APP_KEY_SETTING))

    @property
    def empty(self) -> bool:
        return not self._keys

    def identify(self, presented: str | None) -> KeyHolder | None:
        """Whom the key belongs to; every key is compared, in constant time, before answering."""
        if not presented:
            return None
        candidate = presented.encode("utf-8", "surrogateescape")
        matches = [holder for key, holder in self._keys if hmac.compare_digest(key, candidate)]
        return matches[0] if matches else None


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key from `x-functions-key`, else from `?code=`, as the Functions host reads it."""
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY_PARAMETER) or None


def is_authorized(auth_level: str, holder: KeyHolder | None) -> bool:
    if auth_level == "anonymous":
        return True
    if auth_level == "admin":
        return holder is not None and holder.is_admin
    return holder is not None


def without_principal_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers minus any `X-MS-CLIENT-PRINCIPAL*` a client tried to forge."""
    return {k: v for k, v in headers.items() if not k.lower().startswith(PRINCIPAL_HEADER_PREFIX)}


def principal_headers(holder: KeyHolder) -> dict[str, str]:
    """The headers App Service Authentication adds for a signed-in caller."""
    principal = {
        "auth_typ": "key",
        "name_typ": "name",
        "role_typ": "roles",
        "claims": [{"typ": "name", "val": holder.name}, {"typ": "roles", "val": holder.role}],
    }
    encoded = base64.b64encode(json.dumps(principal).encode()).decode("ascii")
    return {
        "x-ms-client-principal": encoded,
        "x-ms-client-principal-name": holder.name,
        "x-ms-client-principal-idp": "key",
    }
