"""The secret store on Azure Key Vault (the SMTP password, the Graph client secret), read with
`SecretClient` and cached briefly.

A value is cached per worker for `cache_seconds`, so a rotation in the vault takes effect without
a restart; `forget` drops it sooner (the dispatcher does after the SMTP server refused it). Every
azure-core error is translated in one place, `_vault_errors`, into `SecretUnavailable`, which names
the secret and the reason and never carries the value (nor the failed request that held it):

    get: 404                                ──► None: no such secret
    401, a credential that cannot sign in,
    403, other 4xx, a challenge for another
    resource                                ──► SecretUnavailable(transient=False)
    unreachable, timeout, 429, 5xx          ──► SecretUnavailable(transient=True)
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.keyvault.secrets.aio import SecretClient

from shared.errors import SecretUnavailable

log = logging.getLogger(__name__)

# A vault that does not answer should let the dispatcher move on (the email waits and is tried
# again) within seconds, not after azure-core's defaults (ten retries, a five-minute connect timeout).
_CLIENT_DEFAULTS: dict[str, Any] = {"retry_total": 3, "connection_timeout": 10, "read_timeout": 30}


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KeyVaultSecretStore:
    """Secrets in one vault, behind the same port as the development store."""

    def __init__(
        self,
        vault_url: str,
        credential: AsyncTokenCredential,
        *,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        **client_options: Any,
    ) -> None:
        """`client_options` go to `SecretClient` (tests pass `connection_verify`, `retry_total`).

        The SDK checks that the vault's sign-in challenge names a resource the vault URL belongs to
        (`*.vault.azure.net`); a loopback vault, a local stand-in, can never pass that check, so
        only there it is off.
        """
        self._vault_url = vault_url
        self._credential = credential
        self._client = SecretClient(
            vault_url,
            credential,
            verify_challenge_resource=not is_loopback(vault_url),
            **{**_CLIENT_DEFAULTS, **client_options},
        )
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cached: dict[str, tuple[float, str]] = {}
        log.info("secrets are read from Key Vault %s and cached for %s s", vault_url, cache_seconds)

    async def get(self, name: str) -> str | None:
        cached = self._cached.get(name)
        if cached is not None and self._clock() - cached[0] < self._cache_seconds:
            return cached[1]
        with self._vault_errors(name, "read from"):
            try:
                secret = await self._client.get_secret(name)
            except ResourceNotFoundError:
                self._cached.pop(name, None)
                return None
        if secret.value is None:
            return None
        self._cached[name] = (self._clock(), secret.value)
        return secret.value

    async def set(self, name: str, value: str) -> None:
        with self._vault_errors(name, "stored in"):
            try:
                await self._client.set_secret(name, value, content_type="text/plain")
            except ResourceExistsError:
                # Soft-delete keeps a cleared secret's name: recover it, then write a new version.
                await self._client.recover_deleted_secret(name)
                await self._client.set_secret(name, value, content_type="text/plain")
        self._cached[name] = (self._clock(), value)

    async def delete(self, name: str) -> None:
        """Deletes every version and waits until the vault says so, so that a new value may follow."""
        self._cached.pop(name, None)
        with self._vault_errors(name, "deleted from"):
            try:
                await self._client.delete_secret(name)
            except ResourceNotFoundError:
                return

    def forget(self, name: str) -> None:
        self._cached.pop(name, None)

    async def aclose(self) -> None:
        await self._client.close()
        await self._credential.close()

    @contextmanager
    def _vault_errors(self, name: str, done: str) -> Iterator[None]:
        try:
            yield
        except SecretUnavailable:
            raise
        except ClientAuthenticationError as error:
            raise self._unavailable(name, done, f"the app could not sign in to Key Vault: {_brief(error)}") from None
        except HttpResponseError as error:
            status = error.status_code or 0
            if status == 403:
                reason = "access denied (403): the app's identity needs a Key Vault secrets role on the vault"
            elif status == 404:
                reason = "not found (404)"
            else:
                reason = f"Key Vault answered {status}: {_brief(error)}"
            raise self._unavailable(name, done, reason, transient=status == 429 or status >= 500) from None
        except (AzureError, OSError, TimeoutError) as error:
            reason = f"the vault {self._vault_url} could not be reached: {_brief(error)}"
            raise self._unavailable(name, done, reason, transient=True) from None
        except ValueError as error:  # the challenge names a resource this vault URL is not part of
            reason = f"the vault's sign-in challenge is not valid: {_brief(error)}"
            raise self._unavailable(name, done, reason) from None

    def _unavailable(self, name: str, done: str, reason: str, *, transient: bool = False) -> SecretUnavailable:
        log.warning("the secret %s could not be %s Key Vault: %s", name, done, reason)
        return SecretUnavailable(
            f"The secret {name} could not be {done} Key Vault: {reason}",
            secret_name=name,
            reason=reason,
            transient=transient,
        )


def _brief(error: BaseException) -> str:
    """The first line of an SDK message, short enough to read in a history record."""
    text = str(getattr(error, "message", None) or error).strip()
    first = " ".join(text.splitlines()[0].split()) if text else type(error).__name__
    return first if len(first) <= 240 else first[:237] + "..."
