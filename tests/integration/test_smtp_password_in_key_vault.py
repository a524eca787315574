"""The SMTP password in Key Vault, through the real services over Azurite: the Key Vault stand-in
with the real SecretClient, and a real aiosmtpd server with STARTTLS and AUTH."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from functions.http import error_response
from shared.adapters.key_vault import KeyVaultSecretStore
from shared.adapters.smtp import SmtpTransport
from shared.bootstrap import Services, build_services
from shared.errors import SecretUnavailable
from shared.settings import load_settings
from tests.support.azurite import free_port
from tests.support.builders import Clock
from tests.support.key_vault_server import KeyVaultStandIn
from tests.support.managed_identity import StaticTokenCredential
from tests.support.smtp_server import SmtpTestServer

PASSWORD = "Kv-Smtp-Pa55-4417"
NAME = "smtp-password"
UNREADABLE = "The SMTP password could not be read from Key Vault (secret smtp-password: "
RE_ENTER = "): re-enter the password on the Email parameters"
pytestmark = pytest.mark.smtp_server(tls="starttls", auth=("mailer", PASSWORD))


@dataclass
class VaultStack:
    services: Services
    clock: Clock  # the dispatcher's wall clock
    smtp: SmtpTestServer

    async def send(self, message_id: str = "m1") -> dict[str, Any]:
        body = {"user": "alice", "provider": "smtp", "to": ["bob@contoso.com"], "subject": "Hi", "body": {"text": "x"}}
        accepted = await self.services.sending.accept(body)
        await self.dispatch(accepted.id, message_id)
        return await self.record(accepted.id)

    async def dispatch(self, email_id: str, message_id: str) -> None:
        await self.services.dispatching.dispatch(json.dumps({"id": email_id}).encode(), message_id=message_id)

    async def record(self, email_id: str) -> dict[str, Any]:
        found = await self.services.history.get(email_id)
        assert found is not None
        return found[0].public()

    def auth_attempts(self) -> int:
        return self.smtp.commands.count("AUTH")


@pytest.fixture
def key_vault(tls_authority: trustme.CA) -> Iterator[KeyVaultStandIn]:
    stand_in = KeyVaultStandIn(tls_authority)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
async def open_stack(
    storage: str,
    tmp_path: Path,
    key_vault: KeyVaultStandIn,
    smtp_server: SmtpTestServer,
    tls_authority: trustme.CA,
    trusting_tls_context: ssl.SSLContext,
) -> AsyncIterator[Callable[..., Awaitable[VaultStack]]]:
    """Opens the services with a Key Vault store (300 s cache) at `vault_url`, the stand-in unless told."""
    ca_file = tmp_path / "ca.pem"
    tls_authority.cert_pem.write_to_path(str(ca_file))
    transport = SmtpTransport(tls_context=trusting_tls_context, timeout=10)
    opened: list[Services] = []

    async def open_one(vault_url: str = key_vault.url) -> VaultStack:
        credential = StaticTokenCredential(key_vault.issue_token())
        store = KeyVaultSecretStore(
            vault_url, credential, cache_seconds=300, connection_verify=str(ca_file), retry_total=0
        )
        environ = {
            "AzureWebJobsStorage": storage,
            "MAILROOM_SECRETS_FILE": str(tmp_path / "not-used.json"),
            "MAILROOM_PARAMETERS_CACHE_SECONDS": "0",
            "MAILROOM_MAX_ATTEMPTS": "2",
        }
        clock = Clock()
        services = build_services(load_settings(environ), transport=transport, secrets=store, clock=clock)
        opened.append(services)
        await services.configuration.patch_parameters(
            {"smtp": {"server": "127.0.0.1", "port": smtp_server.port, "sslRequired": True, "userName": "mailer"}}
        )
        await services.configuration.put_user("alice", {"email": "alice@contoso.com"})
        return VaultStack(services, clock, smtp_server)

    yield open_one
    for services in opened:
        await services.aclose()
        await services.configuration._secrets.aclose()  # type: ignore[attr-defined]
    await transport.aclose()


async def test_the_password_written_through_the_api_signs_in_and_clearing_it_deletes_the_secret(
    open_stack, key_vault: KeyVaultStandIn, tmp_path: Path
) -> None:
    stack = await open_stack()
    configuration = stack.services.configuration
    await configuration.set_smtp_password({"password": PASSWORD})
    assert key_vault.value(NAME) == PASSWORD and not (tmp_path / "not-used.json").exists()
    shown = await configuration.show_parameters()
    assert shown["smtp"]["passwordSet"] is True and PASSWORD not in json.dumps(shown)

    sent = await stack.send()
    assert sent["status"] == "Sent", sent
    assert [(m.login, m.tls) for m in stack.smtp.messages] == [("mailer", True)]

    await configuration.clear_smtp_password()
    assert key_vault.is_deleted(NAME) and (await configuration.show_parameters())["smtp"]["passwordSet"] is False
    failed = await stack.send("m2")
    assert failed["status"] == "Failed" and failed["attempts"] == 1
    assert failed["lastFailureMessage"] == f"{UNREADABLE}not found: no password has been set{RE_ENTER}"
    assert failed["failureDetails"]["code"] == "SmtpPasswordUnavailable" and len(stack.smtp.messages) == 1

    await configuration.set_smtp_password({"password": PASSWORD})  # the soft-deleted secret is written anew
    assert key_vault.value(NAME) == PASSWORD and (await stack.send("m3"))["status"] == "Sent"


async def test_a_refused_cached_password_is_read_again_once_and_a_rotated_one_is_used(
    open_stack, key_vault: KeyVaultStandIn
) -> None:
    stack = await open_stack()
    key_vault.put(NAME, "Old-Pa55")
    before = key_vault.reads(NAME)  # the parameters page asked whether one is set
    refused = await stack.send("m1")
    assert refused["status"] == "Failed" and refused["lastFailureMessage"].startswith(
        "The SMTP server rejected the credentials: verify the SMTP user name and password"
    )
    assert stack.auth_attempts() == 1 and key_vault.reads(NAME) - before == 2  # read again, unchanged: no retry

    key_vault.put(NAME, PASSWORD)  # rotated in the vault while the worker still caches the old one
    sent = await stack.send("m2")
    assert sent["status"] == "Sent" and sent["attempts"] == 1, sent
    assert stack.auth_attempts() == 3 and key_vault.reads(NAME) - before == 3
    assert [m.login for m in stack.smtp.messages] == ["mailer"]


async def test_a_vault_that_denies_access_fails_the_email_with_the_secret_and_the_reason(
    open_stack, key_vault: KeyVaultStandIn
) -> None:
    stack = await open_stack()
    key_vault.put(NAME, PASSWORD)
    key_vault.refuse(403, message="Caller is not authorized to perform action on resource.")
    failed = await stack.send()
    assert failed["status"] == "Failed" and failed["attempts"] == 1
    message = failed["lastFailureMessage"]
    assert message.startswith(f"{UNREADABLE}access denied (403)") and message.endswith(RE_ENTER)
    assert PASSWORD not in json.dumps(failed) and stack.smtp.connections == 0

    shown = await stack.services.configuration.show_parameters()
    assert shown["smtp"]["passwordSet"] is None and shown["smtp"]["server"] == "127.0.0.1"
    with pytest.raises(SecretUnavailable) as raised:
        await stack.services.configuration.set_smtp_password({"password": PASSWORD})
    response = error_response(raised.value)
    assert response.status_code == 503 and PASSWORD.encode() not in response.get_body()
    assert b"The secret smtp-password could not be stored in Key Vault: access denied (403)" in response.get_body()


async def test_an_unreachable_vault_is_retried_then_fails_in_the_same_words(open_stack) -> None:
    stack = await open_stack(f"https://127.0.0.1:{free_port()}")
    waiting = await stack.send("m1")
    assert waiting["status"] == "Waiting" and waiting["nextAttemptAt"], waiting
    assert waiting["lastFailureMessage"].startswith(f"{UNREADABLE}the vault https://127.0.0.1:")
    stack.clock.now += timedelta(hours=1)
    await stack.dispatch(waiting["id"], "m2")
    failed = await stack.record(waiting["id"])
    assert failed["status"] == "Failed"
    assert failed["lastFailureMessage"].endswith(f"{RE_ENTER} (gave up after 2 attempts)")
    assert stack.smtp.connections == 0
