import pytest

from shared.domain.parameters import EmailParameters
from shared.errors import InvalidInput


def test_a_new_installation_starts_with_port_587_and_ssl_required() -> None:
    smtp = EmailParameters.defaults().public(password_set=False)["smtp"]
    assert (smtp["port"], smtp["sslRequired"], smtp["passwordSet"]) == (587, True, False)


def test_merge_patch_keeps_absent_fields_replaces_given_ones_and_null_resets() -> None:
    patched = EmailParameters.defaults().patched({"smtp": {"server": "smtp.contoso.com", "port": 25}})
    assert patched.document["smtp"]["server"] == "smtp.contoso.com"
    assert patched.document["smtp"]["port"] == 25
    assert patched.document["smtp"]["sslRequired"] is True
    reset = patched.patched({"smtp": {"port": None}})
    assert reset.document["smtp"]["port"] == 587
    assert reset.document["smtp"]["server"] == "smtp.contoso.com"
    user = patched.patched({"smtp": {"userName": "mailer"}}).patched({"smtp": {"userName": None}})
    assert user.document["smtp"]["userName"] is None


@pytest.mark.parametrize(
    ("patch", "field", "code"),
    [
        ({"smtp": {"port": 0}}, "smtp.port", "OutOfRange"),
        ({"smtp": {"port": 65536}}, "smtp.port", "OutOfRange"),
        ({"smtp": {"port": "587"}}, "smtp.port", "InvalidType"),
        ({"smtp": {"server": "bad host"}}, "smtp.server", "InvalidHostName"),
        ({"smtp": {"prot": 25}}, "smtp.prot", "UnknownField"),
        ({"smtp": {"passwordSet": True}}, "smtp.passwordSet", "ReadOnlyField"),
        ({"batchProvider": "fax"}, "batchProvider", "InvalidChoice"),
        ({"throttling": {"perMinuteLimits": {"smtp": -1}}}, "throttling.perMinuteLimits.smtp", "OutOfRange"),
        ({"exchange": {"batchAccount": "not-an-address"}}, "exchange.batchAccount", "InvalidAddress"),
        ({"smtp": {"authenticationRequired": True}}, "smtp.authenticationRequired", "InvalidCombination"),
        ({"smtp": 5}, "smtp", "InvalidType"),
    ],
)
def test_a_wrong_field_is_named_with_its_rule(patch: dict, field: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        EmailParameters.defaults().patched(patch)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_zero_days_mean_the_default_thirty() -> None:
    parameters = EmailParameters.defaults().patched({"expirationDays": 0, "historyRetentionDays": 0})
    assert (parameters.expiration_days, parameters.history_retention_days) == (30, 30)
    assert EmailParameters.defaults().patched({"expirationDays": 3}).expiration_days == 3


def test_stored_documents_gain_fields_added_later() -> None:
    parameters = EmailParameters.from_stored({"smtp": {"server": "mail.contoso.com"}})
    assert parameters.document["smtp"]["port"] == 587
    assert parameters.document["batchProvider"] == "smtp"


def test_password_goes_only_where_a_user_name_is_set() -> None:
    plain = EmailParameters.defaults().patched({"smtp": {"server": "mail.contoso.com"}})
    assert plain.smtp_server("secret").password is None
    with_user = plain.patched({"smtp": {"userName": "mailer"}})
    server = with_user.smtp_server("secret")
    assert (server.user_name, server.password) == ("mailer", "secret")
    assert "secret" not in repr(server)


def test_size_limit_is_in_mebibytes() -> None:
    assert EmailParameters.defaults().patched({"maxEmailSizeMb": 2}).max_email_bytes == 2 * 1048576
