"""Builds the MIME message with the standard library's `email` package.

Text and HTML become alternatives, attachments follow, headers are RFC 2047 encoded (or kept
as UTF-8 under SMTPUTF8 when an address needs it), and Bcc is never written into the message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from shared.domain.addresses import Mailbox


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class MessageContent:
    subject: str
    text: str | None
    html: str | None
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    draft_bcc: tuple[Mailbox, ...] = ()  # only in an .eml draft, which the user's own mail app sends


def needs_smtputf8(mailboxes: Sequence[Mailbox]) -> bool:
    return any(m.needs_smtputf8 for m in mailboxes)


def build_mime(
    content: MessageContent,
    *,
    sender: Mailbox | None,
    message_id: str,
    date: datetime,
    utf8: bool,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The whole message as it will be sent. `sender` None leaves From out (an .eml draft)."""
    message = EmailMessage(policy=policy.SMTPUTF8 if utf8 else policy.SMTP)
    if sender is not None:
        message["From"] = sender.header_value
    if content.to:
        message["To"] = ", ".join(m.header_value for m in content.to)
    if content.cc:
        message["Cc"] = ", ".join(m.header_value for m in content.cc)
    if content.draft_bcc:
        message["Bcc"] = ", ".join(m.header_value for m in content.draft_bcc)
    message["Subject"] = content.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    for name, value in extra_headers:
        message[name] = value
    message.set_content(content.text or "", cte=_text_transfer_encoding(content.text or ""))
    if content.html is not None:
        message.add_alternative(content.html, subtype="html", cte=_text_transfer_encoding(content.html))
    for attachment in content.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.name)
    _set_boundaries(message, message_id)
    return message.as_bytes()


def _set_boundaries(message: EmailMessage, message_id: str) -> None:
    """Boundaries of a fixed length, derived from the Message-ID: the same content always has
    the same size, so a size limit means exactly what it says (the stdlib's vary in length)."""
    for index, part in enumerate(p for p in message.walk() if p.is_multipart()):
        digest = hashlib.sha256(f"{message_id}/{index}".encode()).hexdigest()[:32]
        part.set_boundary(f"=_mailroom_{digest}")


def _text_transfer_encoding(text: str) -> str:
    """7bit where it is plain ASCII with short lines; quoted-printable otherwise (safe everywhere)."""
    if text.isascii() and all(len(line) <= 998 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"
