"""Email addresses as callers write them: `alice@contoso.com` or `Alice <alice@contoso.com>`.

Parsing is strict on purpose: anything that could smuggle a header (CR, LF, NUL) or that a
mail server would refuse is rejected here, before anything is stored or queued.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address

from shared.errors import InvalidInput

_WITH_NAME = re.compile(r'^\s*(?P<name>"(?:[^"\\]|\\.)*"|[^<>"]*?)\s*<(?P<addr>[^<>\s]+)>\s*$')
_LOCAL_ATOM = re.compile(r"^[^\s\"(),:;<>@\[\\\]\x00-\x1f\x7f]+$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[^\s\"(),:;<>@\[\\\]\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]{1,63}(?<!-)$")
_FORBIDDEN = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class Mailbox:
    address: str  # the bare addr-spec, as written in the SMTP envelope
    name: str = ""

    @property
    def needs_smtputf8(self) -> bool:
        return not self.address.isascii()

    @property
    def header_value(self) -> str:
        local, _, domain = self.address.rpartition("@")
        return str(Address(display_name=self.name, username=local, domain=domain))

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


def _invalid(field: str, text: str, why: str) -> InvalidInput:
    return InvalidInput(f"{field}: {text!r} is not a valid email address: {why}", code="InvalidAddress", field=field)


def parse_address(text: object, field: str) -> Mailbox:
    if not isinstance(text, str):
        raise InvalidInput(f"{field} must be a string address", code="InvalidType", field=field)
    if _FORBIDDEN.search(text):
        raise InvalidInput(
            f"{field} contains a line break or NUL character, which is not allowed in an address",
            code="HeaderInjection",
            field=field,
        )
    match = _WITH_NAME.match(text)
    if match:
        name = match.group("name").strip()
        if name.startswith('"') and name.endswith('"') and len(name) >= 2:
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        address = match.group("addr")
    else:
        if "<" in text or ">" in text:
            raise _invalid(field, text, "write it as Name <name@domain>")
        name, address = "", text.strip()
    check_addr_spec(address, field, text)
    return Mailbox(address=address, name=name)


def check_addr_spec(address: str, field: str, original: str | None = None) -> None:
    shown = address if original is None else original
    if address.count("@") != 1:
        raise _invalid(field, shown, "it needs exactly one @")
    local, domain = address.split("@")
    if not local or len(local.encode()) > 64:
        raise _invalid(field, shown, "the part before @ must have 1 to 64 characters")
    if len(address.encode()) > 254:
        raise _invalid(field, shown, "it is longer than 254 characters")
    if local.startswith(".") or local.endswith(".") or ".." in local or not _LOCAL_ATOM.match(local):
        raise _invalid(field, shown, "the part before @ has characters that are not allowed")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise _invalid(field, shown, "the domain after @ is not a valid host name")


def parse_address_list(value: object, field: str, *, required: bool = False) -> tuple[Mailbox, ...]:
    if value is None:
        value = []
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be a list of addresses", code="InvalidType", field=field)
    if required and not value:
        raise InvalidInput(f"{field} needs at least one address", code="NoRecipients", field=field)
    return tuple(parse_address(item, f"{field}[{index}]") for index, item in enumerate(value))
