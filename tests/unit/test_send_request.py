import base64

import pytest

from shared.domain.send_request import MAX_RECIPIENTS, parse_send_request
from shared.errors import InvalidInput


def request(**changes: object) -> dict:
    base = {"user": "alice", "provider": "smtp", "to": ["bob@contoso.com"], "subject": "Hi"}
    base.update(changes)
    return base


def refused(body: dict) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        parse_send_request(body)
    return error.value


def test_a_full_request_is_parsed() -> None:
    parsed = parse_send_request(
        request(
            mode="batch",
            priority="high",
            cc=["Carol <carol@contoso.com>"],
            bcc=["dave@contoso.com"],
            body={"text": "t", "html": "<b>h</b>"},
            reference="CustTable/US-008",
            idempotencyKey="k-1",
            attachments=[
                {"name": "a.pdf", "contentType": "application/pdf", "contentBase64": base64.b64encode(b"%PDF").decode()}
            ],
        )
    )
    assert parsed.mode == "batch" and parsed.priority == "high"
    assert [m.address for m in parsed.all_recipients] == ["bob@contoso.com", "carol@contoso.com", "dave@contoso.com"]
    assert parsed.attachments[0].content == b"%PDF"
    assert parsed.reference == "CustTable/US-008"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"subject": "Hello\r\nBcc: x@evil.com"}, "subject", "HeaderInjection"),
        ({"to": []}, "to", "NoRecipients"),
        ({"to": ["ok@contoso.com", "bad"]}, "to[1]", "InvalidAddress"),
        ({"to": "bob@contoso.com"}, "to", "InvalidType"),
        ({"colour": "red"}, "colour", "UnknownField"),
        ({"mode": "bulk"}, "mode", "InvalidChoice"),
        ({"priority": "high"}, "priority", "InvalidCombination"),
        (
            {"attachments": [{"name": "../etc/passwd", "contentBase64": ""}]},
            "attachments[0].name",
            "InvalidAttachmentName",
        ),
        ({"attachments": [{"name": "a\\b.txt", "contentBase64": ""}]}, "attachments[0].name", "InvalidAttachmentName"),
        (
            {"attachments": [{"name": "a.txt", "contentBase64": "not base64!"}]},
            "attachments[0].contentBase64",
            "InvalidBase64",
        ),
        (
            {"attachments": [{"name": "a.txt", "contentBase64": "QUJD"[:3]}]},
            "attachments[0].contentBase64",
            "InvalidBase64",
        ),
        (
            {"attachments": [{"name": "a.txt", "contentType": "pdf", "contentBase64": "QUJD"}]},
            "attachments[0].contentType",
            "InvalidContentType",
        ),
        ({"body": {"text": 5}}, "body.text", "InvalidType"),
        ({"doNotAskAgain": "yes"}, "doNotAskAgain", "InvalidType"),
        ({"reference": "a\nb"}, "reference", "HeaderInjection"),
        ({"idempotencyKey": "has space"}, "idempotencyKey", "InvalidIdempotencyKey"),
        ({"user": "a/b"}, "user", "InvalidUserId"),
    ],
)
def test_bad_input_names_the_field(changes: dict, field: str, code: str) -> None:
    error = refused(request(**changes))
    assert (error.field, error.code) == (field, code)


def test_no_more_than_500_recipients() -> None:
    many = [f"user{i}@contoso.com" for i in range(MAX_RECIPIENTS)]
    assert len(parse_send_request(request(to=many)).to) == MAX_RECIPIENTS
    error = refused(request(to=many, cc=["one.more@contoso.com"]))
    assert error.code == "TooManyRecipients"


def test_user_is_required_and_body_must_be_an_object() -> None:
    assert refused({"to": ["a@contoso.com"]}).field == "user"
    assert refused([]).code == "InvalidType"  # type: ignore[arg-type]
