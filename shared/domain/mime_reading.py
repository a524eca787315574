"""Reads a stored MIME message back into its parts, for providers that take a message model.

The MIME built at acceptance is the one source of truth for an email's content: Graph wants
subject, bodies, recipients and attachments as separate fields, so they are read back from it
rather than stored twice. Bcc is never in the MIME: it is the envelope recipients that no To or
Cc header names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from shared.domain.addresses import Mailbox
from shared.domain.mime import Attachment

_CUSTOM_PREFIX = "x-"
_NOT_FORWARDED = {"x-unsent"}  # a draft marker for mail apps, never part of a sent email


@dataclass(frozen=True)
class ReadMessage:
    subject: str
    text: str | None
    html: str | None
    from_: Mailbox | None
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    reply_to: tuple[Mailbox, ...]
    custom_headers: tuple[tuple[str, str], ...]  # the X- headers, e.g. X-Mailroom-Id
    attachments: tuple[Attachment, ...]

    def blind_copies(self, envelope_recipients: Sequence[str]) -> tuple[Mailbox, ...]:
        """The envelope recipients that no To or Cc header names: the Bcc of the email."""
        named = {m.address.lower() for m in (*self.to, *self.cc)}
        return tuple(Mailbox(a) for a in envelope_recipients if a.lower() not in named)


def read_mime(mime: bytes) -> ReadMessage:
    message = message_from_bytes(mime, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = _body(message, "plain")
    html = _body(message, "html")
    return ReadMessage(
        subject=str(message.get("Subject", "")),
        text=text if (text and text.strip()) or html is None else None,
        html=html,
        from_=next(iter(_mailboxes(message, "From")), None),
        to=_mailboxes(message, "To"),
        cc=_mailboxes(message, "Cc"),
        reply_to=_mailboxes(message, "Reply-To"),
        custom_headers=tuple(
            (name, str(value))
            for name, value in message.items()
            if name.lower().startswith(_CUSTOM_PREFIX) and name.lower() not in _NOT_FORWARDED
        ),
        attachments=tuple(_attachment(part) for part in message.iter_attachments()),
    )


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    if not isinstance(content, str):
        content = content.decode("utf-8", "replace")
    # the wire's CRLF, and the final line break the MIME writer adds, are not the author's text
    content = content.replace("\r\n", "\n")
    return content[:-1] if content.endswith("\n") else content


def _mailboxes(message: EmailMessage, header: str) -> tuple[Mailbox, ...]:
    value = message.get(header)
    if value is None:
        return ()
    return tuple(
        Mailbox(address.addr_spec, address.display_name or "")
        for address in getattr(value, "addresses", ())
        if address.addr_spec and address.addr_spec != "<>"
    )


def _attachment(part: EmailMessage) -> Attachment:
    content = part.get_payload(decode=True)
    return Attachment(
        name=part.get_filename() or "attachment",
        content_type=part.get_content_type(),
        content=content if isinstance(content, bytes) else b"",
    )
