"""Signing in to Microsoft Graph: which azure-identity credential, as `MAILROOM_GRAPH_CREDENTIAL` says.

- `client-secret`: an app registration (tenant id, client id) and its client secret, read through
  the same secret store as the SMTP password, so production keeps it in Key Vault;
- `managed-identity`: the Function App's managed identity (a user-assigned one when a client id
  is set), no secret anywhere;
- `default`: `DefaultAzureCredential`, which finds a managed identity on Azure and a developer's
  sign-in on a workstation.

Problems found here, before any Graph request, are raised as `SignInUnavailable` with the fault
that `shared.domain.graph_failures` words for the user.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential

from shared.domain.graph_failures import GraphFault
from shared.errors import DependencyUnavailable, SecretUnavailable
from shared.ports import SecretStore
from shared.settings import Settings

# A sign-in endpoint that does not answer should fail an email in seconds, not after azure-core's
# defaults (retries with back-off, a five-minute connect timeout).
_IDENTITY_DEFAULTS: dict[str, Any] = {"retry_total": 2, "connection_timeout": 10, "read_timeout": 30}


class CredentialKind(enum.StrEnum):
    CLIENT_SECRET = "client-secret"
    MANAGED_IDENTITY = "managed-identity"
    DEFAULT = "default"


class SignInUnavailable(Exception):
    def __init__(self, fault: GraphFault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault
        self.detail = detail


async def open_credential(
    settings: Settings, secrets: SecretStore, options: Mapping[str, Any] | None = None
) -> tuple[AsyncTokenCredential, str | None]:
    """The credential the settings choose, and the client secret it holds (None without one).

    `options` go to azure-identity (tests pass `connection_verify`).
    """
    kind = CredentialKind(settings.graph_credential)
    extra = {**_IDENTITY_DEFAULTS, **(options or {})}
    if settings.graph_authority_host and kind is not CredentialKind.MANAGED_IDENTITY:
        extra["authority"] = settings.graph_authority_host
    if kind is CredentialKind.MANAGED_IDENTITY:
        return ManagedIdentityCredential(client_id=settings.graph_client_id, **extra), None
    if kind is CredentialKind.DEFAULT:
        return DefaultAzureCredential(managed_identity_client_id=settings.graph_client_id, **extra), None
    if not settings.graph_tenant_id or not settings.graph_client_id:
        raise SignInUnavailable(
            GraphFault.NOT_CONFIGURED,
            "MAILROOM_GRAPH_CREDENTIAL is client-secret, so MAILROOM_GRAPH_TENANT_ID and MAILROOM_GRAPH_CLIENT_ID "
            "must name the app registration",
        )
    secret = await client_secret(settings, secrets)
    return ClientSecretCredential(settings.graph_tenant_id, settings.graph_client_id, secret, **extra), secret


async def client_secret(settings: Settings, secrets: SecretStore) -> str:
    name = settings.graph_client_secret_name
    try:
        secret = await secrets.get(name)
    except SecretUnavailable as error:
        fault = GraphFault.SECRET_UNREADABLE if error.transient else GraphFault.SECRET_MISSING
        detail = error.message if error.transient else f"{name}: {error.reason}"
        raise SignInUnavailable(fault, detail) from None
    except DependencyUnavailable as error:
        raise SignInUnavailable(GraphFault.SECRET_UNREADABLE, error.message) from None
    if secret is None:
        raise SignInUnavailable(GraphFault.SECRET_MISSING, f"{name}: not found")
    return secret
