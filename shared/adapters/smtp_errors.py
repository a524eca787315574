"""aiosmtplib's, the OS's and ssl's errors become the facts of `shared.domain.smtp_failures`,
here and nowhere else; the SMTP adapter raises `Failed` inside a session and classifies it.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
from collections.abc import Iterator

import aiosmtplib

from shared.domain.delivery import RecipientResult
from shared.domain.outgoing import SmtpServer
from shared.domain.smtp_failures import SmtpFailure, SmtpFault, SmtpPhase, SmtpReply

_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


class Failed(Exception):
    """Carries a failure's facts out of the session; the connection is not reused after it."""

    def __init__(self, failure: SmtpFailure) -> None:
        super().__init__(failure.phase)
        self.failure = failure
        self.recipients: tuple[RecipientResult, ...] = ()


def fault(phase: SmtpPhase, server: SmtpServer, fault: SmtpFault, detail: str = "") -> SmtpFailure:
    return SmtpFailure(phase, server.host, server.port, fault=fault, detail=detail)


@contextlib.contextmanager
def phase(phase: SmtpPhase, server: SmtpServer, *, address: str | None = None) -> Iterator[None]:
    """Turns any aiosmtplib, OS or TLS error raised inside into a `_Failed` for this phase."""
    try:
        yield
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise Failed(failure_of(exc, phase, server)) from exc
    except ValueError as exc:  # aiosmtplib refuses an address it cannot put on a command line
        if address is None:
            raise
        raise Failed(fault(phase, server, SmtpFault.ADDRESS_INVALID, address)) from exc


def failure_of(exc: BaseException, phase: SmtpPhase, server: SmtpServer) -> SmtpFailure:
    """The one place where aiosmtplib's, the OS's and ssl's errors become domain facts."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reply = SmtpReply(exc.code, exc.message)
        return SmtpFailure(phase, server.host, server.port, reply=reply)
    chain = causes(exc)
    root = chain[-1]
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            return fault(phase, server, SmtpFault.TLS_CERTIFICATE, error.verify_message or str(error))
    for error in chain:
        if isinstance(error, ssl.SSLError):
            return fault(phase, server, SmtpFault.TLS_HANDSHAKE, error.reason or str(error))
    if any(isinstance(error, TimeoutError) for error in chain):
        return fault(phase, server, SmtpFault.TIMEOUT, str(exc))
    for error in chain:
        if isinstance(error, socket.gaierror):
            return fault(phase, server, SmtpFault.NAME_NOT_RESOLVED, str(error))
        if isinstance(error, OSError) and error.errno == errno.ECONNREFUSED:
            return fault(phase, server, SmtpFault.CONNECTION_REFUSED, str(error))
        if isinstance(error, OSError) and error.errno in _UNREACHABLE:
            return fault(phase, server, SmtpFault.HOST_UNREACHABLE, str(error))
    lost = (
        aiosmtplib.SMTPServerDisconnected,
        ConnectionResetError,
        ConnectionAbortedError,
        BrokenPipeError,
    )
    if any(isinstance(error, lost) for error in chain):
        return fault(phase, server, SmtpFault.CONNECTION_LOST, str(root))
    if isinstance(exc, aiosmtplib.SMTPConnectError) or isinstance(root, OSError):
        return fault(phase, server, SmtpFault.CONNECTION_FAILED, str(root))
    return fault(phase, server, SmtpFault.OTHER, str(exc))


def causes(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while (cause := chain[-1].__cause__) is not None and cause not in chain:
        chain.append(cause)
    return chain
