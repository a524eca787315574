"""The Email parameters page: what an administrator sets, its defaults, and merge-patch updates.

The document is kept in its JSON (camelCase) shape, which is also how it is stored, so that
reading, patching and answering never translate field names twice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from shared.domain import validation as v
from shared.domain.addresses import check_addr_spec
from shared.domain.outgoing import SmtpServer
from shared.errors import InvalidInput

PROVIDERS = ("smtp", "exchange")
DEFAULT_DAYS = 30
EXCHANGE_ONLINE_PER_MINUTE = 30

DEFAULTS: dict[str, Any] = {
    "batchProvider": "smtp",
    "batchProcessing": True,
    "maxEmailSizeMb": 25,
    "expirationDays": 0,
    "historyRetentionDays": 0,
    "throttling": {
        "enabled": False,
        "perMinuteLimits": {"smtp": 0, "exchange": EXCHANGE_ONLINE_PER_MINUTE},
    },
    "smtp": {
        "server": "",
        "port": 587,
        "sslRequired": True,
        "authenticationRequired": False,
        "userName": None,
        "passwordSecretName": "smtp-password",
    },
    "exchange": {"batchAccount": None},
}
READ_ONLY = {"smtp.passwordSet"}


def _days(value: Any, field: str) -> int:
    return v.integer(value, field, minimum=0, maximum=3650)


def _optional_user_name(value: Any, field: str) -> str | None:
    return None if value is None else v.text(value, field, max_length=256) or None


def _optional_address(value: Any, field: str) -> str | None:
    if value is None:
        return None
    address = v.text(value, field, max_length=254).strip()
    check_addr_spec(address, field)
    return address


def _secret_name(value: Any, field: str) -> str:
    name = v.text(value, field, max_length=127, allow_empty=False)
    if not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in name):
        raise InvalidInput(
            f"{field} may only contain letters, digits and hyphens (a Key Vault secret name)",
            code="InvalidSecretName",
            field=field,
        )
    return name


FIELDS: dict[str, Any] = {
    "batchProvider": lambda value, field: v.choice(value, field, PROVIDERS),
    "batchProcessing": v.boolean,
    "maxEmailSizeMb": lambda value, field: v.number(value, field, minimum=0.001, maximum=150),
    "expirationDays": _days,
    "historyRetentionDays": _days,
    "throttling.enabled": v.boolean,
    "throttling.perMinuteLimits.smtp": lambda value, field: v.integer(value, field, minimum=0, maximum=100_000),
    # Exchange Online allows 30 a minute per mailbox: 0 means exactly that, lower is allowed
    "throttling.perMinuteLimits.exchange": lambda value, field: v.integer(
        value, field, minimum=0, maximum=EXCHANGE_ONLINE_PER_MINUTE
    ),
    "smtp.server": v.host_name,
    "smtp.port": lambda value, field: v.integer(value, field, minimum=1, maximum=65535),
    "smtp.sslRequired": v.boolean,
    "smtp.authenticationRequired": v.boolean,
    "smtp.userName": _optional_user_name,
    "smtp.passwordSecretName": _secret_name,
    "exchange.batchAccount": _optional_address,
}


def _default_at(path: str) -> Any:
    node: Any = DEFAULTS
    for part in path.split("."):
        node = node[part]
    return copy.deepcopy(node)


def _merge(target: dict[str, Any], patch: dict[str, Any], prefix: str) -> None:
    for name, value in patch.items():
        path = f"{prefix}{name}"
        if path in READ_ONLY:
            raise InvalidInput(f"{path} is read-only", code="ReadOnlyField", field=path)
        if path in FIELDS:
            target[name] = _default_at(path) if value is None else FIELDS[path](value, path)
        elif isinstance(target.get(name), dict):
            if value is None:
                target[name] = _default_at(path)
            else:
                _merge(target[name], v.require_object(value, path), f"{path}.")
        else:
            known = {key[len(prefix) :].split(".")[0] for key in FIELDS if key.startswith(prefix)}
            v.reject_unknown({name: value}, known, prefix)


def _fill_defaults(document: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(defaults)
    for name, value in document.items():
        if isinstance(merged.get(name), dict) and isinstance(value, dict):
            merged[name] = _fill_defaults(value, merged[name])
        elif name in merged:
            merged[name] = value
    return merged


@dataclass(frozen=True)
class EmailParameters:
    document: dict[str, Any]

    @classmethod
    def defaults(cls) -> EmailParameters:
        return cls(copy.deepcopy(DEFAULTS))

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> EmailParameters:
        return cls(_fill_defaults(stored, DEFAULTS))

    def patched(self, patch: Any) -> EmailParameters:
        """RFC 7396 merge patch: absent keeps, null resets to the default, a value replaces."""
        document = copy.deepcopy(self.document)
        _merge(document, v.require_object(patch, "body"), "")
        smtp = document["smtp"]
        if smtp["authenticationRequired"] and not smtp["userName"]:
            raise InvalidInput(
                "smtp.authenticationRequired is true but smtp.userName is empty: set the user name "
                "the SMTP server expects, or set authenticationRequired to false",
                code="InvalidCombination",
                field="smtp.authenticationRequired",
            )
        return EmailParameters(document)

    def public(self, *, password_set: bool) -> dict[str, Any]:
        shown = copy.deepcopy(self.document)
        shown["smtp"]["passwordSet"] = password_set
        return shown

    @property
    def batch_provider(self) -> str:
        return str(self.document["batchProvider"])

    @property
    def batch_processing(self) -> bool:
        return bool(self.document["batchProcessing"])

    @property
    def max_email_bytes(self) -> int:
        return round(float(self.document["maxEmailSizeMb"]) * 1024 * 1024)

    @property
    def expiration_days(self) -> int:
        return int(self.document["expirationDays"]) or DEFAULT_DAYS

    @property
    def history_retention_days(self) -> int:
        return int(self.document["historyRetentionDays"]) or DEFAULT_DAYS

    @property
    def password_secret_name(self) -> str:
        return str(self.document["smtp"]["passwordSecretName"])

    def smtp_server(self, password: str | None) -> SmtpServer:
        smtp = self.document["smtp"]
        return SmtpServer(
            host=smtp["server"],
            port=int(smtp["port"]),
            ssl_required=bool(smtp["sslRequired"]),
            authentication_required=bool(smtp["authenticationRequired"]),
            user_name=smtp["userName"] or None,
            password=password if smtp["userName"] else None,
        )
