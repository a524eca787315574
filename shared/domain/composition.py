"""Composing an accepted email: its MIME message (checked against the size limit) and the
history record it starts with. Pure, so both are tested without storage."""

from __future__ import annotations

from datetime import datetime

from shared.domain.addresses import Mailbox
from shared.domain.history import AttachmentInfo, EmailRecord, Status
from shared.domain.mime import MessageContent, build_mime, needs_smtputf8
from shared.domain.parameters import EmailParameters
from shared.domain.send_request import SendRequest
from shared.domain.senders import SenderChoice
from shared.domain.users import User
from shared.errors import TooLarge


def compose_mime(
    request: SendRequest, sender: Mailbox | None, email_id: str, now: datetime, parameters: EmailParameters
) -> bytes:
    """The message as it will be sent; `sender` None makes an .eml draft for the user's mail app."""
    draft = sender is None
    domain = (sender.address if sender else "mailroom.invalid").rpartition("@")[2]
    mime = build_mime(
        MessageContent(
            subject=request.subject,
            text=request.text,
            html=request.html,
            to=request.to,
            cc=request.cc,
            attachments=request.attachments,
            draft_bcc=request.bcc if draft else (),
        ),
        sender=sender,
        message_id=f"<{email_id}@{domain}>",
        date=now,
        utf8=needs_smtputf8((*([sender] if sender else []), *request.all_recipients)),
        extra_headers=[("X-Mailroom-Id", email_id), *([("X-Unsent", "1")] if draft else [])],
    )
    if len(mime) > parameters.max_email_bytes:
        raise TooLarge(
            f"The email is {len(mime):,} bytes as it would be sent (attachments encoded), "
            f"over the limit of {parameters.max_email_bytes:,} bytes "
            f"({parameters.document['maxEmailSizeMb']} MiB): make the attachments smaller",
            code="EmailTooLarge",
            details={"sizeBytes": len(mime), "limitBytes": parameters.max_email_bytes},
        )
    return mime


def new_record(
    request: SendRequest,
    user: User,
    provider: str,
    sender: SenderChoice,
    email_id: str,
    now: datetime,
    mime: bytes,
    status: Status,
) -> EmailRecord:
    return EmailRecord(
        id=email_id,
        status=status,
        mode=request.mode,
        provider=provider,
        priority=request.priority,
        user=user.user_id,
        sender=sender.sender,
        sender_rule=str(sender.rule),
        from_=str(sender.from_),
        to=tuple(str(m) for m in request.to),
        cc=tuple(str(m) for m in request.cc),
        bcc=tuple(str(m) for m in request.bcc),
        subject=request.subject,
        size_bytes=len(mime),
        created_at=now,
        updated_at=now,
        reference=request.reference,
        idempotency_key=request.idempotency_key,
        attachments=tuple(AttachmentInfo(a.name, len(a.content)) for a in request.attachments),
    )
