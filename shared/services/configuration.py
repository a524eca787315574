"""The administrator's side: Email parameters, the SMTP password and users."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from shared.domain import validation as v
from shared.domain.parameters import EmailParameters
from shared.domain.users import User, check_user_id
from shared.errors import DependencyUnavailable, NotFound
from shared.ports import ParameterStore, SecretStore, StaleWrite, UserStore

_PATCH_ATTEMPTS = 5


class Configuration:
    def __init__(
        self, *, parameters: ParameterStore, users: UserStore, secrets: SecretStore, cache_seconds: float
    ) -> None:
        self._store = parameters
        self._users = users
        self._secrets = secrets
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
        current = await self.parameters_uncached()
        return current.public(password_set=await self._password_set(current))

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
            return updated.public(password_set=await self._password_set(updated))
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

    async def smtp_password(self, current: EmailParameters) -> str | None:
        return await self._secrets.get(current.password_secret_name)

    async def _password_set(self, current: EmailParameters) -> bool:
        return await self._secrets.get(current.password_secret_name) is not None

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
