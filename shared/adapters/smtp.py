"""The SMTP adapter: sends an `OutgoingEmail` with aiosmtplib and never raises for SMTP trouble.

Every aiosmtplib, OS and TLS error is translated in one place, `smtp_errors.failure_of`, into the facts of
`shared.domain.smtp_failures`, which words them for the user:

    aiosmtplib.SMTPResponseException ──► SmtpFailure(reply=...) ─┐
    SSL, OS, timeout, disconnect     ──► SmtpFailure(fault=...) ─┼─► classify() ─► DeliveryResult
    what the server's EHLO lacks     ──► SmtpFailure(fault=...) ─┘

The transaction runs one command at a time (MAIL, RCPT per recipient, DATA, content), so the
phase of a failure is exact: a connection lost before the content left is transient, one lost
after it is unconfirmed. Connections are pooled per server and account and reused across emails.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hmac
import os
import re
import socket
import ssl
from dataclasses import dataclass, replace
from types import TracebackType

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol, normalize_message_line_endings

from shared.adapters.smtp_errors import Failed, fault, phase
from shared.domain.delivery import DeliveryResult, RecipientResult, RecipientStatus
from shared.domain.outgoing import OutgoingEmail, SmtpServer
from shared.domain.smtp_failures import (
    SmtpFailure,
    SmtpFault,
    SmtpPhase,
    SmtpReply,
    classify,
    classify_refusals,
)

IMPLICIT_TLS_PORT = 465
# One sign-in attempt per connection, so a wrong password counts once against lockout
# policies; LOGIN first, as the ERP's own mail client does.
_AUTH_MECHANISMS = ("login", "plain", "cram-md5")
_QUIT_SECONDS = 5.0
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class TlsMode(enum.StrEnum):
    IMPLICIT = "implicit"  # TLS from the first byte
    STARTTLS = "starttls"  # STARTTLS, or no email at all: never clear text
    OPPORTUNISTIC = "opportunistic"  # STARTTLS when the server offers it


def tls_mode_for(server: SmtpServer) -> TlsMode:
    """Port 465 speaks TLS from the first byte; elsewhere SSL required means STARTTLS or fail."""
    if server.port == IMPLICIT_TLS_PORT:
        return TlsMode.IMPLICIT
    return TlsMode.STARTTLS if server.ssl_required else TlsMode.OPPORTUNISTIC


@dataclass(frozen=True)
class _PoolKey:
    host: str
    port: int
    tls: TlsMode
    user_name: str | None
    password_digest: str


@dataclass(eq=False)
class _Connection:
    smtp: aiosmtplib.SMTP
    idle_since: float = 0.0
    reused: bool = False  # has carried a transaction before; may have died while idle


class _Pool:
    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)  # at most `size` connections, in use or idle
        self.idle: list[_Connection] = []


class SmtpTransport:
    """Sends email over SMTP, reusing up to `pool_size` connections per server and account."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = 60,
        pool_size: int = 4,
        idle_seconds: float = 30,
    ) -> None:
        self._tls_context = tls_context or ssl.create_default_context()
        self._timeout = timeout
        self._pool_size = pool_size
        self._idle_seconds = idle_seconds
        self._pools: dict[_PoolKey, _Pool] = {}
        self._salt = os.urandom(16)
        self._local_hostname: str | None = None
        self._closed = False

    async def __aenter__(self) -> SmtpTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def send(self, email: OutgoingEmail, server: SmtpServer) -> DeliveryResult:
        """Sends one email; every SMTP or network failure comes back as the result, not raised."""
        if server.authentication_required and not server.user_name:
            return classify(fault(SmtpPhase.AUTH, server, SmtpFault.CREDENTIALS_MISSING))
        pool = self._pools.setdefault(self._key(server), _Pool(self._pool_size))
        async with pool.slots:
            try:
                return await self._send_pooled(pool, email, server)
            except Failed as failed:
                result = classify(failed.failure)
                return replace(result, recipients=failed.recipients or result.recipients)

    async def aclose(self) -> None:
        """Says QUIT on every idle connection; connections in use are closed when released."""
        self._closed = True
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            idle, pool.idle = pool.idle, []
            await asyncio.gather(*(_discard(connection) for connection in idle))

    def _key(self, server: SmtpServer) -> _PoolKey:
        secret = (server.password or "").encode()
        digest = hmac.new(self._salt, secret, "sha256").hexdigest()
        return _PoolKey(server.host.lower(), server.port, tls_mode_for(server), server.user_name, digest)

    async def _send_pooled(self, pool: _Pool, email: OutgoingEmail, server: SmtpServer) -> DeliveryResult:
        connection = await self._checkout(pool, server)
        try:
            try:
                result = await self._transact(connection, email, server)
            except Failed as failed:
                if not (connection.reused and _died_while_idle(failed.failure)):
                    raise
                connection.smtp.close()
                connection = await self._connect(server)
                result = await self._transact(connection, email, server)
        except BaseException:
            connection.smtp.close()
            raise
        await self._checkin(pool, connection)
        return result

    async def _checkout(self, pool: _Pool, server: SmtpServer) -> _Connection:
        now = asyncio.get_running_loop().time()
        stale = [c for c in pool.idle if now - c.idle_since > self._idle_seconds]
        pool.idle = [c for c in pool.idle if c not in stale and c.smtp.is_connected]
        await asyncio.gather(*(_discard(connection) for connection in stale))
        if pool.idle:
            return pool.idle.pop()
        return await self._connect(server)

    async def _checkin(self, pool: _Pool, connection: _Connection) -> None:
        if self._closed:
            await _discard(connection)
        elif connection.smtp.is_connected:
            connection.idle_since = asyncio.get_running_loop().time()
            connection.reused = True
            pool.idle.append(connection)

    async def _connect(self, server: SmtpServer) -> _Connection:
        mode = tls_mode_for(server)
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        smtp = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            local_hostname=self._local_hostname,
            timeout=self._timeout,
            use_tls=mode is TlsMode.IMPLICIT,
            start_tls=False,  # done below, so that a missing STARTTLS is our decision
            tls_context=self._tls_context,
        )
        try:
            with phase(SmtpPhase.CONNECT, server):
                await smtp.connect()
            await _greet(smtp, server)
            if mode is not TlsMode.IMPLICIT:
                if smtp.supports_extension("starttls"):
                    with phase(SmtpPhase.TLS, server):
                        await smtp.starttls()
                    await _greet(smtp, server)
                elif mode is TlsMode.STARTTLS:
                    raise Failed(fault(SmtpPhase.TLS, server, SmtpFault.STARTTLS_NOT_OFFERED))
            if server.user_name:
                await _sign_in(smtp, server, server.user_name)
        except BaseException:
            smtp.close()
            raise
        return _Connection(smtp)

    async def _transact(self, connection: _Connection, email: OutgoingEmail, server: SmtpServer) -> DeliveryResult:
        """One mail transaction; a refusal the server replied with leaves the connection usable."""
        smtp = connection.smtp
        content = normalize_message_line_endings(email.mime)
        options: list[str] = []
        if email.needs_smtputf8:
            if not smtp.supports_extension("smtputf8"):
                return classify(fault(SmtpPhase.MAIL, server, SmtpFault.SMTPUTF8_NOT_OFFERED))
            options.append("SMTPUTF8")
        if smtp.supports_extension("size"):
            options.append(f"SIZE={len(content)}")
        if smtp.supports_extension("8bitmime") and not content.isascii():
            options.append("BODY=8BITMIME")
        encoding = "utf-8" if email.needs_smtputf8 else "ascii"

        try:
            with phase(SmtpPhase.MAIL, server, address=email.sender):
                await smtp.mail(email.sender, options=options, encoding=encoding)
        except Failed as failed:
            reply = failed.failure.reply
            if reply is None or (connection.reused and reply.code == 421):
                raise
            return await _reset(smtp, classify(failed.failure))

        replies: dict[str, SmtpReply] = {}
        refusals: list[tuple[str, SmtpReply]] = []
        for address in email.recipients:
            try:
                with phase(SmtpPhase.RCPT, server, address=address):
                    response = await smtp.rcpt(address, encoding=encoding)
                replies[address] = SmtpReply(response.code, response.message)
            except Failed as failed:
                if failed.failure.reply is None:
                    raise
                refusals.append((address, failed.failure.reply))
        if not replies:
            return await _reset(smtp, classify_refusals(server.host, server.port, refusals))

        refused = dict(refusals)
        try:
            with phase(SmtpPhase.DATA, server):
                protocol = await _write_content(smtp, content)
            with phase(SmtpPhase.AFTER_DATA_SENT, server):
                final = await _content_reply(smtp, protocol, self._timeout)
        except Failed as failed:
            failed.recipients = _recipients(email, replies, refused, RecipientStatus.PENDING)
            if failed.failure.reply is None:
                raise
            result = replace(classify(failed.failure), recipients=failed.recipients)
            return await _reset(smtp, result)
        recipients = _recipients(email, replies, refused, RecipientStatus.ACCEPTED)
        return DeliveryResult.sent(recipients, str(SmtpReply(final.code, final.message)))


async def _greet(smtp: aiosmtplib.SMTP, server: SmtpServer) -> None:
    with phase(SmtpPhase.EHLO, server):
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not smtp.is_connected:
                raise
            await smtp.helo()


async def _sign_in(smtp: aiosmtplib.SMTP, server: SmtpServer, user_name: str) -> None:
    if not smtp.supports_extension("auth"):
        raise Failed(fault(SmtpPhase.AUTH, server, SmtpFault.AUTH_NOT_OFFERED))
    mechanism = next((m for m in _AUTH_MECHANISMS if m in smtp.server_auth_methods), None)
    if mechanism is None:
        offered = " ".join(m.upper() for m in smtp.server_auth_methods)
        raise Failed(fault(SmtpPhase.AUTH, server, SmtpFault.AUTH_MECHANISM_UNSUPPORTED, offered))
    authenticate = {
        "login": smtp.auth_login,
        "plain": smtp.auth_plain,
        "cram-md5": smtp.auth_crammd5,
    }[mechanism]
    with phase(SmtpPhase.AUTH, server):
        await authenticate(user_name, server.password or "")


async def _write_content(smtp: aiosmtplib.SMTP, content: bytes) -> SMTPProtocol:
    """DATA, then the content after its 354, written but not yet confirmed.

    aiosmtplib's data() does both at once and so hides whether the content left, which is the
    difference between a transient failure and an unconfirmed one.
    """
    start = await smtp.execute_command(b"DATA")
    if start.code != aiosmtplib.SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    protocol.write(_DOT_AT_LINE_START.sub(b"..", content) + b".\r\n")
    return protocol


async def _content_reply(
    smtp: aiosmtplib.SMTP, protocol: SMTPProtocol, reply_seconds: float
) -> aiosmtplib.SMTPResponse:
    try:
        reply = await protocol.read_response(timeout=reply_seconds)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        smtp.close()
        raise
    if reply.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply


async def _reset(smtp: aiosmtplib.SMTP, result: DeliveryResult) -> DeliveryResult:
    """RSET after a refused transaction; a connection that cannot reset is closed, not pooled."""
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
    return result


async def _discard(connection: _Connection) -> None:
    smtp = connection.smtp
    if smtp.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await smtp.quit(timeout=_QUIT_SECONDS)
    smtp.close()


def _recipients(
    email: OutgoingEmail,
    replies: dict[str, SmtpReply],
    refused: dict[str, SmtpReply],
    accepted_status: RecipientStatus,
) -> tuple[RecipientResult, ...]:
    return tuple(
        RecipientResult(address, RecipientStatus.REFUSED, str(refused[address]))
        if address in refused
        else RecipientResult(address, accepted_status, str(replies.get(address, "")))
        for address in email.recipients
    )


def _died_while_idle(failure: SmtpFailure) -> bool:
    """A pooled connection the server dropped while idle: retried once, on a fresh one."""
    if failure.phase is not SmtpPhase.MAIL:
        return False
    return failure.fault is SmtpFault.CONNECTION_LOST or (failure.reply is not None and failure.reply.code == 421)
