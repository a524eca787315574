"""The administrator's side: Email parameters, the SMTP password and users."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from shared.domain import validation as v
from shared.domain.parameters import EmailParameters
from shared.domain.users import User, check_user_id
from shared.errors import DependencyUnavailable, NotFound, SecretUnavailable
from shared.ports import ParameterStore, SecretStore, StaleWrite, UserStore

_PATCH_ATTEMPTS = 5


class Configuration:
    def __init__(
        self,
        *,
        parameters: ParameterStore,
        users: UserStore,
        secrets: SecretStore,
        cache_seconds: float,
        secrets_location: str = "Key Vault",
    ) -> None:
        """`secrets_location` names the secret store in what users read ("Key Vault")."""
        self._store = parameters
        self._users = users
        self._secrets = secrets
        self._secrets_location = secrets_location
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, EmailParameters] | None = None

    async def parameters(self) -> EmailParameters:
        """The current parameters; a worker may serve them from a cache of a few seconds."""
        if self._cached and time.monotonic() - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        stored, _ = await self._store.load()
        current = EmailParameters.from_stored(stored)
        self._cached = (time.monotonic(), current)
        return current

    async def show_parameters(self) -> dict[str, Any]:
        return await self._shown(await self.parameters_uncached())

    async def parameters_uncached(self) -> EmailParameters:
        self._cached = None
        return await self.parameters()

    async def patch_parameters(self, patch: Any) -> dict[str, Any]:
        for _ in range(_PATCH_ATTEMPTS):
            stored, etag = await self._store.load()
            updated = EmailParameters.from_stored(stored).patched(patch)
            try:
                await self._store.save(updated.document, etag)
            except StaleWrite:
                continue  # another administrator saved first: apply the patch to theirs
            self._cached = None
            return await self._shown(updated)
        raise DependencyUnavailable("The Email parameters are being changed by others: try again", code="Busy")

    async def set_smtp_password(self, body: Any) -> None:
        document = v.require_object(body, "body")
        v.reject_unknown(document, {"password"})
        password = v.text(document.get("password"), "password", max_length=1024, allow_empty=False)
        current = await self.parameters_uncached()
        await self._secrets.set(current.password_secret_name, password)

    async def clear_smtp_password(self) -> None:
        current = await self.parameters_uncached()
        await self._secrets.delete(current.password_secret_name)

    async def smtp_password(self, current: EmailParameters) -> str:
        """The SMTP password (cached briefly by the store), or SecretUnavailable saying, in the words of
        SPEC's *Clear errors*, which secret could not be read and why; never the value."""
        name = current.password_secret_name
        try:
            password = await self._secrets.get(name)
        except SecretUnavailable as error:
            raise self._unreadable(name, error.reason, transient=error.transient) from None
        if password is None:
            raise self._unreadable(name, "not found: no password has been set", transient=False)
        return password

    def forget_smtp_password(self, current: EmailParameters) -> None:
        """The next read goes to the store: the cached password may have been rotated."""
        self._secrets.forget(current.password_secret_name)

    def _unreadable(self, name: str, reason: str, *, transient: bool) -> SecretUnavailable:
        return SecretUnavailable(
            f"The SMTP password could not be read from {self._secrets_location} (secret {name}: {reason}): "
            "re-enter the password on the Email parameters",
            code="SmtpPasswordUnavailable",
            secret_name=name,
            reason=reason,
            transient=transient,
        )

    async def _shown(self, current: EmailParameters) -> dict[str, Any]:
        """The parameters as the API shows them, `passwordSet` read from the store now (not a cache).

        When the store cannot say (the vault denies access or is down), `passwordSet` is null rather
        than a guess, and the page still opens, so the administrator can fix the rest.
        """
        name = current.password_secret_name
        self._secrets.forget(name)
        password_set: bool | None
        try:
            password_set = await self._secrets.get(name) is not None
        except SecretUnavailable:
            password_set = None
        shown = current.public(password_set=bool(password_set))
        shown["smtp"]["passwordSet"] = password_set
        return shown

    async def put_user(self, user_id: str, body: Any) -> tuple[dict[str, Any], bool]:
        check_user_id(user_id)
        existing = await self._users.get(user_id)
        user = User.from_request(user_id, body, existing)
        await self._users.put(user)
        return user.public(), existing is None

    async def user(self, user_id: str) -> User:
        user = await self._users.get(check_user_id(user_id))
        if user is None:
            raise NotFound(
                f"There is no user {user_id!r}: an administrator adds users with PUT /api/users/{user_id}",
                code="UserNotFound",
            )
        return user

    async def user_options(self, user_id: str) -> dict[str, Any]:
        return (await self.user(user_id)).options()

    async def patch_user_options(self, user_id: str, patch: Any, *, may_set_sender: bool) -> dict[str, Any]:
        user = await self.user(user_id)
        updated = user.with_options(patch, may_set_sender=may_set_sender)
        await self._users.put(updated)
        return updated.options()

    async def delete_user(self, user_id: str) -> None:
        if not await self._users.delete(check_user_id(user_id)):
            raise NotFound(f"There is no user {user_id!r}", code="UserNotFound")

    async def remember_provider(self, user: User, provider: str, *, save_choice: bool) -> None:
        updated = replace(user, last_used_provider=provider)
        if save_choice:
            updated = replace(updated, email_provider_id=provider)
        if updated != user:
            await self._users.put(updated)
