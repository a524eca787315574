"""The Graph message model of an email, built from the MIME stored at acceptance.

Graph's message has one body: HTML when the email has one (Exchange derives the plain-text
alternative itself), else the text. Our correlation header travels in
`internetMessageHeaders`, which accepts only `X-` headers. The size estimate decides between
one `sendMail` request and a draft with upload sessions: Graph refuses requests over 4 MB.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from msgraph.generated.models.attachment import Attachment as GraphAttachment
from msgraph.generated.models.attachment_item import AttachmentItem
from msgraph.generated.models.attachment_type import AttachmentType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.internet_message_header import InternetMessageHeader
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient

from shared.domain.addresses import Mailbox
from shared.domain.mime import Attachment
from shared.domain.mime_reading import ReadMessage

# Graph refuses a request over 4 MB; decided on 4,000,000 bytes (under both readings of "MB"), less
# room for what the estimate does not count exactly.
REQUEST_LIMIT_BYTES = 4_000_000 - 64 * 1024
# Attachments up to 3 MB may be posted whole; larger ones need an upload session.
WHOLE_ATTACHMENT_LIMIT_BYTES = 3 * 1024 * 1024
_ENVELOPE_BYTES = 2048  # JSON keys, types and flags around the content


def graph_message(
    read: ReadMessage,
    *,
    bcc: Sequence[Mailbox],
    send_as: Mailbox | None,
    attachments: Sequence[Attachment] = (),
) -> Message:
    """The message as Graph takes it; `send_as` is the From address when it is not the mailbox itself."""
    html = read.html is not None
    return Message(
        subject=read.subject,
        body=ItemBody(content_type=BodyType.Html if html else BodyType.Text, content=read.html if html else read.text),
        to_recipients=_recipients(read.to),
        cc_recipients=_recipients(read.cc),
        bcc_recipients=_recipients(bcc),
        reply_to=_recipients(read.reply_to),
        from_=_recipient(send_as) if send_as is not None else None,
        internet_message_headers=[InternetMessageHeader(name=n, value=v) for n, v in read.custom_headers] or None,
        attachments=list[GraphAttachment]([file_attachment(a) for a in attachments]) or None,
    )


def file_attachment(attachment: Attachment) -> FileAttachment:
    return FileAttachment(name=attachment.name, content_type=attachment.content_type, content_bytes=attachment.content)


def upload_item(attachment: Attachment) -> AttachmentItem:
    """What an upload session is created for: the attachment's name, type and size, not its bytes."""
    return AttachmentItem(
        attachment_type=AttachmentType.File,
        name=attachment.name,
        content_type=attachment.content_type,
        size=len(attachment.content),
    )


def request_bytes(read: ReadMessage, bcc: Sequence[Mailbox], attachments: Sequence[Attachment]) -> int:
    """An upper estimate of the JSON request: base64 attachments, escaped bodies, addresses."""
    texts = [read.subject, read.html or read.text or ""]
    texts += [f"{m.name}{m.address}" for m in (*read.to, *read.cc, *read.reply_to, *bcc)]
    texts += [f"{n}{v}" for n, v in read.custom_headers]
    size = sum(len(json.dumps(t)) for t in texts) + _ENVELOPE_BYTES
    for attachment in attachments:
        size += attachment_bytes(attachment)
    return size


def plan_attachments(
    read: ReadMessage, bcc: Sequence[Mailbox]
) -> tuple[list[Attachment], list[Attachment], list[Attachment]]:
    """For a large email: which attachments ride in the draft, which are posted whole to it, and which
    need an upload session (over 3 MB), so that no request exceeds Graph's limit."""
    room = REQUEST_LIMIT_BYTES - request_bytes(read, bcc, ())
    in_draft: list[Attachment] = []
    posted: list[Attachment] = []
    uploaded: list[Attachment] = []
    for attachment in read.attachments:
        size = attachment_bytes(attachment)
        if len(attachment.content) > WHOLE_ATTACHMENT_LIMIT_BYTES:
            uploaded.append(attachment)
        elif size <= room:
            in_draft.append(attachment)
            room -= size
        else:
            posted.append(attachment)
    return in_draft, posted, uploaded


def attachment_bytes(attachment: Attachment) -> int:
    return len(base64.b64encode(attachment.content)) + len(json.dumps(attachment.name + attachment.content_type)) + 128


def _recipients(mailboxes: Sequence[Mailbox]) -> list[Recipient] | None:
    return [_recipient(m) for m in mailboxes] or None


def _recipient(mailbox: Mailbox) -> Recipient:
    return Recipient(email_address=EmailAddress(address=mailbox.address, name=mailbox.name or None))
