"""An email ready for a provider: envelope plus the MIME bytes built at acceptance."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingEmail:
    email_id: str
    sender: str  # the envelope sender (SMTP MAIL FROM), a bare address
    recipients: tuple[str, ...]  # every To, Cc and Bcc address, bare
    mime: bytes  # the whole message as it will be sent; Bcc is not in it
    needs_smtputf8: bool = False  # an address has non-ASCII characters


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to reach the SMTP server, from the Email parameters and the secret store."""

    host: str
    port: int
    ssl_required: bool = True
    authentication_required: bool = False
    user_name: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # the password must never reach a log
        return (
            f"SmtpServer(host={self.host!r}, port={self.port}, ssl_required={self.ssl_required}, "
            f"authentication_required={self.authentication_required}, user_name={self.user_name!r})"
        )
