"""A real aiosmtpd server on loopback, configured per test.

It records what clients delivered (envelope, bytes, MAIL options, AUTH login, TLS or not) and
can offer or withhold STARTTLS, AUTH and SMTPUTF8, speak implicit TLS, answer a command with a
scripted reply, or drop the connection at a chosen point. aiosmtpd's Controller runs it in a
thread with its own event loop, so the client under test runs on the test's loop undisturbed.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
DropPoint = Literal["mail", "rcpt", "data-command", "data"]


@dataclass(frozen=True)
class SmtpServerOptions:
    """What `@pytest.mark.smtp_server(...)` may set.

    `replies` maps a command to the reply it gets instead of the usual one: "auth", "mail",
    "rcpt" (every recipient), "rcpt:<address>" (one recipient), "data-command" (instead of
    354) and "data" (after the content). `drop_at` closes the connection when that command
    arrives; "data" means after the whole content arrived, before replying (the message is
    then recorded as received). `drop_after_messages` limits the drop to sessions that have
    already delivered that many messages, like a server timing out a reused connection.
    """

    tls: Literal["none", "starttls", "implicit"] = "none"
    auth: tuple[str, str] | None = None  # (user name, password); None: no AUTH offered
    auth_required: bool = False  # MAIL before AUTH gets "530 5.7.0 Authentication required"
    smtputf8: bool = True
    replies: Mapping[str, str] = field(default_factory=dict)
    drop_at: DropPoint | None = None
    drop_after_messages: int = 0
    port: int = 0


@dataclass(frozen=True)
class ReceivedMessage:
    sender: str
    recipients: tuple[str, ...]
    content: bytes
    mail_options: tuple[str, ...]
    login: str | None  # the AUTH user name the session signed in with
    tls: bool  # the session was encrypted, by STARTTLS or implicit TLS
    confirmed: bool = True  # False when the server dropped the connection instead of replying
    received_at: float = field(default_factory=time.time)  # epoch seconds, when the content arrived


class SmtpTestServer:
    """One server on 127.0.0.1 (port 0 unless told): start(), point a client at host:port, stop()."""

    def __init__(self, options: SmtpServerOptions, authority: trustme.CA) -> None:
        self.options = options
        self.messages: list[ReceivedMessage] = []
        self.connections = 0  # sessions opened by clients
        self.quits = 0  # sessions a client ended with QUIT
        self.commands: list[str] = []  # EHLO, AUTH, MAIL, RCPT and DATA, as they reached the server
        certificate = authority.issue_cert(HOST, "localhost")
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(server_context)
        self._controller = _Controller(
            self,
            _Handler(self),
            hostname=HOST,
            port=options.port,
            ssl_context=server_context if options.tls == "implicit" else None,
            server_hostname="mailroom.test",
            tls_context=server_context if options.tls == "starttls" else None,
            enable_SMTPUTF8=options.smtputf8,
            auth_required=options.auth_required,
            auth_require_tls=options.tls == "starttls",
            authenticator=self._authenticate,
        )

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        self._controller.start()
        self.connections = 0  # the controller's own readiness probe does not count

    def stop(self) -> None:
        self._controller.stop()

    def close_sessions(self) -> None:
        """Closes every open connection from the server's side, as an idle timeout would."""
        loop = self._controller.loop

        async def close_all() -> None:
            for session in self._controller.sessions:
                if session.transport is not None:
                    session.transport.close()

        asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=5)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        expected = self.options.auth
        if expected is None or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = expected
        if data.login == user.encode() and data.password == password.encode():
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)


class _ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP, plus the one point its hooks cannot reach: the DATA command itself."""

    def __init__(self, test_server: SmtpTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.test_server = test_server
        self.delivered = 0  # messages this session delivered

    async def smtp_DATA(self, arg: str) -> None:
        self.test_server.commands.append("DATA")
        if _drops(self, "data-command"):
            await _drop(self)
        reply = self.test_server.options.replies.get("data-command")
        if reply is not None and self.envelope is not None and self.envelope.rcpt_tos:
            await self.push(reply)
            return
        await super().smtp_DATA(arg)

    async def smtp_QUIT(self, arg: str) -> None:
        self.test_server.quits += 1
        await super().smtp_QUIT(arg)


class _Handler:
    def __init__(self, test_server: SmtpTestServer) -> None:
        self._server = test_server
        self._replies = test_server.options.replies

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        self._server.commands.append("EHLO")
        if self._server.options.auth is None:
            responses = [line for line in responses if not line[4:].upper().startswith("AUTH")]
        return responses

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> object:
        self._server.commands.append("AUTH")
        return self._replies.get("auth", MISSING)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> object:
        self._server.commands.append("MAIL")
        if _drops(server, "mail"):
            await _drop(server)
        return self._replies.get("mail", MISSING)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> object:
        self._server.commands.append("RCPT")
        if _drops(server, "rcpt"):
            await _drop(server)
        return self._replies.get(f"rcpt:{address}", self._replies.get("rcpt", MISSING))

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        dropping = _drops(server, "data")
        reply = self._replies.get("data")
        if reply is None or dropping:
            self._record(server, session, envelope, confirmed=not dropping)
        if dropping:
            await _drop(server)
        if reply is not None:
            return reply
        assert isinstance(server, _ScriptedSMTP)
        server.delivered += 1
        return "250 2.0.0 OK: queued as MR1"

    def _record(self, server: SMTP, session: Session, envelope: Envelope, *, confirmed: bool) -> None:
        auth = session.auth_data
        transport = server.transport
        self._server.messages.append(
            ReceivedMessage(
                sender=envelope.mail_from or "",
                recipients=tuple(envelope.rcpt_tos),
                content=envelope.original_content or b"",
                mail_options=tuple(envelope.mail_options),
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                tls=transport is not None and transport.get_extra_info("sslcontext") is not None,
                confirmed=confirmed,
            )
        )


class _Controller(Controller):
    """Binds port 0 and learns the real port; counts and remembers the sessions it serves."""

    def __init__(self, test_server: SmtpTestServer, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._test_server = test_server
        self.sessions: list[_ScriptedSMTP] = []

    def factory(self) -> SMTP:
        self._test_server.connections += 1
        with warnings.catch_warnings():  # AUTH without TLS is what some tests are about
            warnings.simplefilter("ignore")
            session = _ScriptedSMTP(self._test_server, self.handler, **self.SMTP_kwargs)
        self.sessions.append(session)
        return session

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _drops(server: SMTP, point: DropPoint) -> bool:
    assert isinstance(server, _ScriptedSMTP)
    options = server.test_server.options
    return options.drop_at == point and server.delivered >= options.drop_after_messages


async def _drop(server: SMTP) -> None:
    """Cuts the connection without a reply; aiosmtpd then cancels this session's task."""
    assert isinstance(server.transport, asyncio.Transport)
    server.transport.abort()
    await asyncio.Event().wait()
