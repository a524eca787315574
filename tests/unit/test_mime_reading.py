"""Reading the stored MIME back: what Graph gets must be what the caller asked to send."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.addresses import Mailbox, parse_address
from shared.domain.mime import Attachment, MessageContent, build_mime
from shared.domain.mime_reading import read_mime

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
INVOICE = Attachment("Rechnung März.pdf", "application/pdf", bytes(range(256)) * 40)


def build(*, text: str | None = "Hallo Jörg\nZeile 2", html: str | None = "<p>Hallo <b>Jörg</b></p>") -> bytes:
    return build_mime(
        MessageContent(
            subject="Grüße aus Köln",
            text=text,
            html=html,
            to=(parse_address("Jörg Müller <joerg@contoso.com>", "to"),),
            cc=(parse_address("carol@contoso.com", "cc"),),
            attachments=(INVOICE,),
        ),
        sender=parse_address("Alice <alice@contoso.com>", "from"),
        message_id="<20261204-1@contoso.com>",
        date=NOW,
        utf8=False,
        extra_headers=[("X-Mailroom-Id", "20261204-1"), ("Reply-To", "Desk <desk@contoso.com>"), ("X-Unsent", "1")],
    )


def test_subject_bodies_addresses_and_attachments_come_back_as_written() -> None:
    read = read_mime(build())

    assert read.subject == "Grüße aus Köln"
    assert read.text == "Hallo Jörg\nZeile 2"
    assert read.html == "<p>Hallo <b>Jörg</b></p>"
    assert read.from_ == Mailbox("alice@contoso.com", "Alice")
    assert read.to == (Mailbox("joerg@contoso.com", "Jörg Müller"),)
    assert read.cc == (Mailbox("carol@contoso.com"),)
    assert read.reply_to == (Mailbox("desk@contoso.com", "Desk"),)
    assert read.attachments == (INVOICE,)


def test_only_x_headers_travel_and_never_the_draft_marker() -> None:
    assert read_mime(build()).custom_headers == (("X-Mailroom-Id", "20261204-1"),)


def test_bcc_is_every_envelope_recipient_no_header_names() -> None:
    read = read_mime(build())

    bcc = read.blind_copies(("JOERG@contoso.com", "carol@contoso.com", "audit@contoso.com"))

    assert bcc == (Mailbox("audit@contoso.com"),)


def test_an_html_only_email_has_no_text_body_and_a_text_only_one_no_html() -> None:
    html_only = read_mime(build(text=None))
    text_only = read_mime(build(html=None))

    assert (html_only.text, html_only.html) == (None, "<p>Hallo <b>Jörg</b></p>")
    assert (text_only.text, text_only.html) == ("Hallo Jörg\nZeile 2", None)
