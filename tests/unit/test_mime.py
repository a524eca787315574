import email
from datetime import UTC, datetime
from email import policy

from shared.domain.addresses import parse_address
from shared.domain.mime import Attachment, MessageContent, build_mime

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, email.message.EmailMessage)
    assert all(not part.defects for part in message.walk())
    return message


def build(**changes: object) -> bytes:
    content = {
        "subject": "Grüße aus Köln",
        "text": "Hallo Jörg",
        "html": "<p>Hallo <b>Jörg</b></p>",
        "to": (parse_address("Jörg Müller <joerg@contoso.com>", "to"),),
        "cc": (parse_address("carol@contoso.com", "cc"),),
        "attachments": (Attachment("Rechnung März.pdf", "application/pdf", bytes(range(256)) * 10),),
    }
    content.update(changes)
    return build_mime(
        MessageContent(**content),  # type: ignore[arg-type]
        sender=parse_address("Alice <alice@contoso.com>", "from"),
        message_id="<id-1@contoso.com>",
        date=NOW,
        utf8=False,
    )


def test_headers_are_rfc2047_encoded_and_read_back_as_written() -> None:
    raw = build()
    assert raw.isascii()
    message = parse(raw)
    assert message["Subject"] == "Grüße aus Köln"
    assert message["To"] == "Jörg Müller <joerg@contoso.com>"
    assert message["From"] == "Alice <alice@contoso.com>"
    assert message["Message-ID"] == "<id-1@contoso.com>"
    assert email.utils.parsedate_to_datetime(message["Date"]) == NOW


def test_text_and_html_are_alternatives_and_attachments_survive_byte_for_byte() -> None:
    message = parse(build())
    assert message.get_content_type() == "multipart/mixed"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Hallo Jörg"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<b>Jörg</b>" in html.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "Rechnung März.pdf"
    assert attachment.get_content() == bytes(range(256)) * 10


def test_bcc_is_never_written_into_the_message() -> None:
    raw = build()
    assert b"Bcc" not in raw and b"bcc" not in raw.lower().split(b"\r\n\r\n")[0]


def test_without_a_sender_there_is_no_from_header() -> None:
    raw = build_mime(
        MessageContent(subject="Draft", text="x", html=None, to=()),
        sender=None,
        message_id="<d@contoso.com>",
        date=NOW,
        utf8=False,
        extra_headers=[("X-Unsent", "1")],
    )
    message = parse(raw)
    assert message["From"] is None and message["X-Unsent"] == "1"


def test_international_addresses_are_kept_as_utf8_under_smtputf8() -> None:
    raw = build_mime(
        MessageContent(subject="Hi", text="x", html=None, to=(parse_address("jörg@müller.de", "to"),)),
        sender=parse_address("alice@contoso.com", "from"),
        message_id="<u@contoso.com>",
        date=NOW,
        utf8=True,
    )
    assert "To: jörg@müller.de".encode() in raw
