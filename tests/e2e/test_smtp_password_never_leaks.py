"""End to end: the SMTP password set through the API lives in Key Vault and nowhere else.

The local host runs as a process with `MAILROOM_KEY_VAULT_URL` pointing at the Key Vault stand-in.
The app builds its real `DefaultAzureCredential`, which finds App Service's managed identity
endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`: here a local one that issues the stand-in's
tokens) exactly as on Azure, and signs in through the vault's challenge. The SMTP server's
authenticator accepts only the password set through the API, and at the end everything the run
wrote (the host's log, every table entity, blob and queue message in Azurite, every API answer)
is searched for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
import trustme
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from tests.support.azurite import Azurite
from tests.support.key_vault_server import KeyVaultStandIn
from tests.support.local_host import LocalHost, start_local_host
from tests.support.managed_identity import ManagedIdentityEndpoint
from tests.support.smtp_server import SmtpServerOptions, SmtpTestServer

ADMIN_KEY = "kv-e2e-admin-key"
APP_KEY = "kv-e2e-app-key"
PASSWORD = f"Mr-{secrets.token_hex(10)}-Pw"
ROTATED = f"Mr-{secrets.token_hex(10)}-Rotated"
CACHE_SECONDS = 2
ANSWERS: list[str] = []  # every API answer of this module, searched at the end


@pytest.fixture(scope="module")
def key_vault(tls_authority: trustme.CA) -> Iterator[KeyVaultStandIn]:
    stand_in = KeyVaultStandIn(tls_authority)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def identity(key_vault: KeyVaultStandIn) -> Iterator[ManagedIdentityEndpoint]:
    endpoint = ManagedIdentityEndpoint(key_vault.issue_token)
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def smtp(tls_authority: trustme.CA) -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(SmtpServerOptions(tls="starttls", auth=("mailer", PASSWORD)), tls_authority)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def host(
    azurite: Azurite,
    key_vault: KeyVaultStandIn,
    identity: ManagedIdentityEndpoint,
    tls_authority: trustme.CA,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalHost]:
    folder = tmp_path_factory.mktemp("kv-e2e")
    ca_file = folder / "ca.pem"
    tls_authority.cert_pem.write_to_path(str(ca_file))
    started = start_local_host(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "MAILROOM_ADMIN_KEY": ADMIN_KEY,
            "MAILROOM_APP_KEY": APP_KEY,
            "MAILROOM_SECRETS_FILE": str(folder / "secrets.json"),  # must never be written
            "MAILROOM_KEY_VAULT_URL": key_vault.url,
            "MAILROOM_SECRET_CACHE_SECONDS": str(CACHE_SECONDS),
            "MAILROOM_PARAMETERS_CACHE_SECONDS": "0",
            "MAILROOM_RETRY_BASE_SECONDS": "1",
            "MAILROOM_MAX_ATTEMPTS": "2",
            **identity.environment,  # IDENTITY_ENDPOINT and IDENTITY_HEADER, as App Service sets them
            "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential",  # DefaultAzureCredential tries only that
            "SSL_CERT_FILE": str(ca_file),  # the vault's and the SMTP server's certificates, verified as usual
        },
        folder / "host.log",
    )
    yield started
    started.stop()
    assert not (folder / "secrets.json").exists()


async def call(host: LocalHost, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{host.url}/{path}", json=body, headers={"x-functions-key": key}) as response,
    ):
        text = await response.text()
        ANSWERS.append(text)
        return response.status, json.loads(text) if text else None


async def send(host: LocalHost, subject: str) -> dict[str, Any]:
    """Posts an email from alice and waits for its final record."""
    body = {"user": "alice", "provider": "smtp", "to": ["bob@example.com"], "subject": subject, "body": {"text": "Hi"}}
    status, accepted = await call(host, "POST", "emails", APP_KEY, body)
    assert status == 202, accepted
    deadline = time.monotonic() + 30
    while True:
        status, record = await call(host, "GET", f"emails/{accepted['id']}", APP_KEY)
        if record["status"] in ("Sent", "Failed", "Unconfirmed"):
            return dict(record)
        assert time.monotonic() < deadline, f"still {record['status']}:\n{host.log()[-3000:]}"
        await asyncio.sleep(0.2)


async def test_the_password_set_through_the_api_is_the_one_the_smtp_server_sees(
    host: LocalHost, smtp: SmtpTestServer, key_vault: KeyVaultStandIn
) -> None:
    patch = {"smtp": {"server": "127.0.0.1", "port": smtp.port, "sslRequired": True, "userName": "mailer"}}
    status, shown = await call(host, "PATCH", "email/parameters", ADMIN_KEY, patch)
    assert status == 200 and shown["smtp"]["passwordSet"] is False, shown
    assert (await call(host, "PUT", "email/parameters/smtp-password", ADMIN_KEY, {"password": PASSWORD}))[0] == 204
    assert key_vault.value("smtp-password") == PASSWORD and key_vault.tokens_issued >= 1
    assert (await call(host, "GET", "email/parameters", ADMIN_KEY))[1]["smtp"]["passwordSet"] is True
    assert (await call(host, "PUT", "users/alice", ADMIN_KEY, {"email": "alice@contoso.com"}))[0] in (200, 201)

    record = await send(host, "Signed in with the vault's password")
    assert record["status"] == "Sent", record
    assert [(m.login, m.tls) for m in smtp.messages] == [("mailer", True)]  # the authenticator took PASSWORD


async def test_a_password_rotated_in_the_vault_is_used_once_the_cache_time_has_passed(
    host: LocalHost, smtp: SmtpTestServer, key_vault: KeyVaultStandIn
) -> None:
    key_vault.put("smtp-password", ROTATED)
    smtp.options = replace(smtp.options, auth=("mailer", ROTATED))
    sign_ins, reads = smtp.commands.count("AUTH"), key_vault.reads("smtp-password")
    await asyncio.sleep(CACHE_SECONDS + 0.5)
    record = await send(host, "Signed in with the rotated password")
    assert record["status"] == "Sent", record
    assert smtp.commands.count("AUTH") - sign_ins == 1  # the first sign-in already used the new password
    assert key_vault.reads("smtp-password") - reads == 1


async def test_a_vault_that_denies_access_fails_the_email_in_plain_words(
    host: LocalHost, key_vault: KeyVaultStandIn
) -> None:
    key_vault.refuse(403, message="Caller is not authorized to perform action on resource.")
    try:
        await asyncio.sleep(CACHE_SECONDS + 0.5)
        record = await send(host, "The vault says no")
        assert record["status"] == "Failed" and record["attempts"] == 1
        assert record["lastFailureMessage"].startswith(
            "The SMTP password could not be read from Key Vault (secret smtp-password: access denied (403)"
        )
        assert record["lastFailureMessage"].endswith("re-enter the password on the Email parameters")
        status, shown = await call(host, "GET", "email/parameters", ADMIN_KEY)
        assert status == 200 and shown["smtp"]["passwordSet"] is None
        status, refused = await call(host, "PUT", "email/parameters/smtp-password", ADMIN_KEY, {"password": ROTATED})
        assert status == 503 and refused["error"]["code"] == "SecretUnavailable"
    finally:
        key_vault.refuse(None)


async def test_the_passwords_are_found_nowhere_the_run_wrote(host: LocalHost, azurite: Azurite) -> None:
    assert (await call(host, "GET", "openapi.json", ADMIN_KEY))[0] == 200
    written = {"the host's log": host.log().encode(), "the API's answers": "\n".join(ANSWERS).encode()}
    written.update(await everything_in_storage(azurite.connection_string))
    assert len(written) > 3 and any(b"Signed in with the vault" in data for data in written.values())
    for password in (PASSWORD, ROTATED):
        for form in (password.encode(), base64.b64encode(password.encode())):
            leaks = [where for where, data in written.items() if form in data]
            assert leaks == [], f"{form!r} found in {leaks}"


async def everything_in_storage(connection: str) -> dict[str, bytes]:
    """Every table entity, blob and queue message (poison queues too) in the account."""
    found: dict[str, bytes] = {}
    async with TableServiceClient.from_connection_string(connection) as tables:
        async for table in tables.list_tables():
            entities = [dict(e) async for e in tables.get_table_client(table.name).list_entities()]
            found[f"table {table.name}"] = json.dumps(entities, default=str).encode()
    async with BlobServiceClient.from_connection_string(connection) as blobs:
        async for container in blobs.list_containers():
            client = blobs.get_container_client(container.name)
            async for blob in client.list_blobs():
                found[f"blob {container.name}/{blob.name}"] = await (await client.download_blob(blob.name)).readall()
    async with QueueServiceClient.from_connection_string(connection) as queues:
        async for queue in queues.list_queues():
            client = queues.get_queue_client(queue.name)
            deadline = time.monotonic() + 15
            while True:  # a message being processed or delayed is invisible: wait until every one can be read
                messages = await client.peek_messages(max_messages=32)
                waiting = (await client.get_queue_properties()).approximate_message_count
                if len(messages) >= min(waiting, 32) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert len(messages) >= min(waiting, 32), f"{queue.name}: {waiting - len(messages)} messages stayed hidden"
            found[f"queue {queue.name}"] = b"\n".join(readable(str(m.content)) for m in messages)
    return found


def readable(content: str) -> bytes:
    """A queue message as stored and, when it is base64 (host.json's encoding), decoded too."""
    try:
        return content.encode() + b"\n" + base64.b64decode(content, validate=True)
    except ValueError:
        return content.encode()
