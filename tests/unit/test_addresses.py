import pytest

from shared.domain.addresses import parse_address, parse_address_list
from shared.errors import InvalidInput


@pytest.mark.parametrize(
    ("written", "address", "name"),
    [
        ("alice@contoso.com", "alice@contoso.com", ""),
        ("Alice Smith <alice@contoso.com>", "alice@contoso.com", "Alice Smith"),
        ('"Smith, Alice" <alice@contoso.com>', "alice@contoso.com", "Smith, Alice"),
        ("Jörg <jörg@müller.de>", "jörg@müller.de", "Jörg"),
        ("first.last+tag@sub.contoso.co.uk", "first.last+tag@sub.contoso.co.uk", ""),
    ],
)
def test_accepts_addresses_as_people_write_them(written: str, address: str, name: str) -> None:
    mailbox = parse_address(written, "to[0]")
    assert (mailbox.address, mailbox.name) == (address, name)


def test_display_names_with_commas_are_quoted_in_headers() -> None:
    assert parse_address('"Smith, Al" <al@contoso.com>', "to").header_value == '"Smith, Al" <al@contoso.com>'


def test_only_non_ascii_addresses_need_smtputf8() -> None:
    assert parse_address("jörg@müller.de", "to").needs_smtputf8
    assert not parse_address("Jörg <joerg@contoso.com>", "to").needs_smtputf8


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("alice@contoso.com\r\nBcc: victim@example.com", "HeaderInjection"),
        ("Alice\n <alice@contoso.com>", "HeaderInjection"),
        ("alice\x00@contoso.com", "HeaderInjection"),
        ("alice", "InvalidAddress"),
        ("alice@localhost", "InvalidAddress"),
        ("a..b@contoso.com", "InvalidAddress"),
        ("alice@-contoso.com", "InvalidAddress"),
        ("alice@@contoso.com", "InvalidAddress"),
        ("Alice <alice@contoso.com", "InvalidAddress"),
        ("x" * 65 + "@contoso.com", "InvalidAddress"),
    ],
)
def test_refuses_what_a_mail_server_would_refuse_or_an_injection(written: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_address(written, "cc[3]")
    assert refused.value.code == code
    assert refused.value.field == "cc[3]"


def test_lists_name_the_bad_item_and_can_be_required() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_address_list(["ok@contoso.com", "nope"], "to")
    assert refused.value.field == "to[1]"
    with pytest.raises(InvalidInput) as empty:
        parse_address_list([], "to", required=True)
    assert empty.value.code == "NoRecipients"
    with pytest.raises(InvalidInput) as not_list:
        parse_address_list("a@contoso.com", "to")
    assert not_list.value.code == "InvalidType"
