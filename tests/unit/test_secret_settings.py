"""Where the SMTP password lives and what a user reads when it cannot be had, with recording fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.adapters.dev_secrets import FileSecretStore
from shared.adapters.key_vault import KeyVaultSecretStore, is_loopback
from shared.bootstrap import build_services
from shared.errors import SecretUnavailable
from shared.services.configuration import Configuration
from shared.settings import load_settings

STORAGE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_without_a_vault_url_the_development_store_is_used_and_values_are_cached_five_minutes() -> None:
    settings = load_settings(STORAGE)
    assert settings.key_vault_url is None and settings.secret_cache_seconds == 300


def test_the_vault_url_must_be_https_and_loses_its_trailing_slash() -> None:
    vault = {"MAILROOM_KEY_VAULT_URL": " https://mailroom-kv.vault.azure.net/ ", "MAILROOM_SECRET_CACHE_SECONDS": "30"}
    settings = load_settings({**STORAGE, **vault})
    assert (settings.key_vault_url, settings.secret_cache_seconds) == ("https://mailroom-kv.vault.azure.net", 30)
    with pytest.raises(ValueError, match="MAILROOM_KEY_VAULT_URL"):
        load_settings({**STORAGE, "MAILROOM_KEY_VAULT_URL": "http://mailroom-kv.vault.azure.net"})


async def test_the_composition_root_reads_from_key_vault_when_a_vault_url_is_set(tmp_path: Path) -> None:
    environ = {**STORAGE, "MAILROOM_SECRETS_FILE": str(tmp_path / "secrets.json")}
    in_vault = build_services(load_settings({**environ, "MAILROOM_KEY_VAULT_URL": "https://kv.vault.azure.net"}))
    on_disk = build_services(load_settings(environ))
    try:
        assert isinstance(in_vault.configuration._secrets, KeyVaultSecretStore)
        assert isinstance(on_disk.configuration._secrets, FileSecretStore)
    finally:
        await in_vault.aclose()
        await on_disk.aclose()


def test_only_a_loopback_vault_skips_the_challenge_resource_check() -> None:
    assert (
        is_loopback("https://127.0.0.1:8443") and is_loopback("https://localhost:8443") and is_loopback("https://[::1]")
    )
    assert not is_loopback("https://mailroom-kv.vault.azure.net") and not is_loopback("https://10.0.0.4")


@dataclass
class FakeSecrets:
    values: dict[str, str] = field(default_factory=dict)
    failure: SecretUnavailable | None = None
    forgotten: list[str] = field(default_factory=list)

    async def get(self, name: str) -> str | None:
        if self.failure:
            raise self.failure
        return self.values.get(name)

    async def set(self, name: str, value: str) -> None:
        self.values[name] = value

    async def delete(self, name: str) -> None:
        self.values.pop(name, None)

    def forget(self, name: str) -> None:
        self.forgotten.append(name)


class NoParameters:
    async def load(self) -> tuple[dict[str, object], str | None]:
        return {"smtp": {"userName": "mailer", "passwordSecretName": "mailroom-smtp"}}, None

    async def save(self, document: dict[str, object], etag: str | None) -> None:
        raise AssertionError("not saved in these tests")


def configuration(secrets: FakeSecrets, location: str = "Key Vault") -> Configuration:
    return Configuration(
        parameters=NoParameters(),
        users=None,
        secrets=secrets,
        cache_seconds=0,
        secrets_location=location,  # type: ignore[arg-type]
    )


async def test_a_missing_password_is_named_with_its_secret_and_where_it_was_looked_for() -> None:
    for location in ("Key Vault", "the development secret store"):
        config = configuration(FakeSecrets(), location)
        with pytest.raises(SecretUnavailable) as raised:
            await config.smtp_password(await config.parameters())
        assert raised.value.message == (
            f"The SMTP password could not be read from {location} (secret mailroom-smtp: not found: no password "
            "has been set): re-enter the password on the Email parameters"
        )
        assert raised.value.code == "SmtpPasswordUnavailable" and not raised.value.transient


async def test_a_vault_failure_keeps_its_reason_and_whether_it_may_pass() -> None:
    reason = "the vault could not be reached"
    failure = SecretUnavailable("x", secret_name="mailroom-smtp", reason=reason, transient=True)
    config = configuration(FakeSecrets(failure=failure))
    with pytest.raises(SecretUnavailable) as raised:
        await config.smtp_password(await config.parameters())
    assert "(secret mailroom-smtp: the vault could not be reached)" in raised.value.message and raised.value.transient


async def test_the_parameters_page_asks_the_store_afresh_and_says_null_when_it_cannot_tell() -> None:
    secrets = FakeSecrets({"mailroom-smtp": "Tr0ub4dor&3"})
    config = configuration(secrets)
    shown = await config.show_parameters()
    assert shown["smtp"]["passwordSet"] is True and secrets.forgotten == ["mailroom-smtp"]
    assert "Tr0ub4dor&3" not in str(shown)
    secrets.failure = SecretUnavailable("x", secret_name="mailroom-smtp", reason="access denied (403)", transient=False)
    assert (await config.show_parameters())["smtp"]["passwordSet"] is None
