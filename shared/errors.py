"""The domain's errors. Entry points turn them into responses in one place.

MailroomError
├── InvalidInput          bad input: names the field (400)
├── NotAuthenticated      no or a wrong credential (401)
├── NotPermitted          the caller's role may not (403)
├── NotFound              (404)
├── Conflict              a choice or state is needed first (409)
├── TooLarge              over a size limit (413)
├── CannotHonour          valid, but cannot be done (422)
└── DependencyUnavailable storage, a vault or a provider is down (503)
    └── SecretUnavailable a secret could not be read or written: names it and why, never its value
"""

from __future__ import annotations

from typing import Any


class MailroomError(Exception):
    code = "Error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        if code:
            self.code = code


class InvalidInput(MailroomError):
    code = "InvalidInput"


class NotAuthenticated(MailroomError):
    code = "NotAuthenticated"


class NotPermitted(MailroomError):
    code = "Forbidden"


class NotFound(MailroomError):
    code = "NotFound"


class Conflict(MailroomError):
    code = "Conflict"


class TooLarge(MailroomError):
    code = "TooLarge"


class CannotHonour(MailroomError):
    code = "CannotHonour"


class DependencyUnavailable(MailroomError):
    code = "DependencyUnavailable"


class SecretUnavailable(DependencyUnavailable):
    """A secret store failed for one secret. `transient` tells a vault that may come back (unreachable,
    throttled) from one that will not until someone acts (access denied, no such secret)."""

    code = "SecretUnavailable"

    def __init__(
        self, message: str, *, secret_name: str, reason: str, transient: bool, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.secret_name = secret_name
        self.reason = reason
        self.transient = transient
