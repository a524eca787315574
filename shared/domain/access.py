"""Who may do what: the two roles of SPEC and the permissions they carry."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from shared.errors import NotAuthenticated, NotPermitted


class Role(enum.StrEnum):
    ADMIN = "Mail.Admin"
    SEND = "Mail.Send"


class Permission(enum.Enum):
    CONFIGURE = "configure"  # parameters, users, templates, test email, resend, all history
    SEND = "send"  # send and notify for users
    USER_CHOICES = "user-choices"  # a user's provider choice and notification flag
    READ_EMAIL = "read-email"  # one email's record by id


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SEND: frozenset({Permission.SEND, Permission.USER_CHOICES, Permission.READ_EMAIL}),
}


def authorize(roles: Iterable[str] | None, permission: Permission) -> frozenset[Role]:
    """The caller's known roles, if one of them grants `permission`; else 401 or 403."""
    if roles is None:
        raise NotAuthenticated(
            "Sign in first: send the function key in the x-functions-key header",
            code="NotAuthenticated",
        )
    known = frozenset(Role(role) for role in roles if role in Role._value2member_map_)
    if not any(permission in GRANTS[role] for role in known):
        raise NotPermitted(
            "Your role does not allow this: it needs the administrator role (Mail.Admin)"
            if permission is Permission.CONFIGURE
            else "Your role does not allow this: it needs the Mail.Send or Mail.Admin role",
            code="Forbidden",
        )
    return known
