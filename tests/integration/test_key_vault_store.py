"""The Key Vault secret store with the real SecretClient against the stand-in over HTTPS, signing in
through the vault's challenge with a static test credential."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import trustme

from shared.adapters.key_vault import KeyVaultSecretStore
from shared.errors import SecretUnavailable
from tests.support.azurite import free_port
from tests.support.key_vault_server import TENANT, KeyVaultStandIn
from tests.support.managed_identity import StaticTokenCredential

NAME = "smtp-password"
VALUE = "Vault-Held-Pa55-91"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key_vault(tls_authority: trustme.CA) -> Iterator[KeyVaultStandIn]:
    stand_in = KeyVaultStandIn(tls_authority)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def ca_file(tls_authority: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    tls_authority.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
async def open_store(ca_file: str) -> AsyncIterator[Callable[..., KeyVaultSecretStore]]:
    opened: list[KeyVaultSecretStore] = []

    def open_one(url: str, credential: StaticTokenCredential, **options: object) -> KeyVaultSecretStore:
        options = {"cache_seconds": 300, "connection_verify": ca_file, "retry_total": 0, **options}
        opened.append(KeyVaultSecretStore(url, credential, **options))  # type: ignore[arg-type]
        return opened[-1]

    yield open_one
    for store in opened:
        await store.aclose()


async def test_a_password_is_stored_read_cleared_and_stored_again(key_vault: KeyVaultStandIn, open_store) -> None:
    credential = StaticTokenCredential(key_vault.issue_token())
    store = open_store(key_vault.url, credential, cache_seconds=0)
    await store.set(NAME, VALUE)
    assert key_vault.value(NAME) == VALUE and await store.get(NAME) == VALUE
    await store.delete(NAME)
    assert key_vault.is_deleted(NAME) and await store.get(NAME) is None
    await store.set(NAME, "Second-Pa55")  # the soft-deleted name is recovered, then written anew
    assert key_vault.value(NAME) == "Second-Pa55" and await store.get(NAME) == "Second-Pa55"
    assert key_vault.requests[0] == ("PUT", f"/secrets/{NAME}", False)  # the challenge came first
    assert credential.asked[0] == (("https://vault.azure.net/.default",), TENANT)


async def test_a_secret_that_does_not_exist_reads_as_none_and_clears_quietly(
    key_vault: KeyVaultStandIn, open_store
) -> None:
    store = open_store(key_vault.url, StaticTokenCredential(key_vault.issue_token()))
    assert await store.get(NAME) is None
    await store.delete(NAME)
    assert not key_vault.is_deleted(NAME)


async def test_a_rotation_in_the_vault_is_read_once_the_cache_time_has_passed(
    key_vault: KeyVaultStandIn, open_store
) -> None:
    clock = Clock()
    store = open_store(key_vault.url, StaticTokenCredential(key_vault.issue_token()), cache_seconds=60, clock=clock)
    key_vault.put(NAME, VALUE)
    assert await store.get(NAME) == VALUE
    key_vault.put(NAME, "Rotated-Pa55")
    clock.now += 59
    assert await store.get(NAME) == VALUE and key_vault.reads(NAME) == 1  # served from the cache
    clock.now += 1
    assert await store.get(NAME) == "Rotated-Pa55" and key_vault.reads(NAME) == 2
    key_vault.put(NAME, "Rotated-Again")
    store.forget(NAME)
    assert await store.get(NAME) == "Rotated-Again" and key_vault.reads(NAME) == 3


async def test_access_denied_names_the_secret_and_the_reason_never_the_value(
    key_vault: KeyVaultStandIn, open_store
) -> None:
    key_vault.put(NAME, VALUE)
    key_vault.refuse(403, message="Caller is not authorized to perform action on resource.")
    store = open_store(key_vault.url, StaticTokenCredential(key_vault.issue_token()))
    for attempt in (store.get(NAME), store.set(NAME, VALUE), store.delete(NAME)):
        with pytest.raises(SecretUnavailable) as raised:
            await attempt
        error = raised.value
        assert error.secret_name == NAME and not error.transient
        assert error.reason.startswith("access denied (403)") and f"The secret {NAME} could not be" in error.message
        assert VALUE not in str(error) and error.__cause__ is None


async def test_a_token_the_vault_does_not_accept_is_a_sign_in_failure(key_vault: KeyVaultStandIn, open_store) -> None:
    store = open_store(key_vault.url, StaticTokenCredential("not-a-token-this-vault-issued"))
    with pytest.raises(SecretUnavailable) as raised:
        await store.get(NAME)
    assert raised.value.reason.startswith("the app could not sign in to Key Vault") and not raised.value.transient


async def test_an_unreachable_vault_may_pass_and_says_which_vault(open_store) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    store = open_store(url, StaticTokenCredential("any"))
    with pytest.raises(SecretUnavailable) as raised:
        await store.get(NAME)
    assert raised.value.transient and f"the vault {url} could not be reached" in raised.value.reason


async def test_a_throttled_vault_may_pass(key_vault: KeyVaultStandIn, open_store) -> None:
    key_vault.refuse(429, code="Throttled", message="Too many requests")
    store = open_store(key_vault.url, StaticTokenCredential(key_vault.issue_token()))
    with pytest.raises(SecretUnavailable) as raised:
        await store.get(NAME)
    assert raised.value.transient and raised.value.reason.startswith("Key Vault answered 429")
