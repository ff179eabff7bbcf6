"""Mail out: one SMTP session, opened with the settings' security and login, that takes messages.

    with open_smtp(config.smtp) as mailer:
        refused = mailer.send(message, recipients)

The password is read from the environment variable the settings name (never from feeds.yaml). Every
failure comes out as a `MailError` (errors.py), whose message says what the server or the system said.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Iterator, Protocol

from veille.errors import MailError, MailRefusedError, MailSendError


class Server(Protocol):
    """Where and how to send (config's `smtp:` section)."""

    host: str
    port: int
    security: str  # none, starttls or ssl
    username: str | None
    password_env: str | None  # the name of the variable holding the password


class Mailer:
    """An open SMTP session: `send` hands it a message."""

    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client
        self.sent = False  # once the server took a message, a bad goodbye must not make us send it twice

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, str]:
        """Refused recipients -> the server's code and reason ("550 no such user"); raises when all are."""
        refused = self.client.send_message(message, to_addrs=recipients)
        self.sent = True
        return {address: f"{code} {_text(reason)}" for address, (code, reason) in refused.items()}

    def close(self) -> None:
        try:
            self.client.quit()
        except (smtplib.SMTPException, OSError):
            if not self.sent:
                raise


@contextmanager
def open_smtp(server: Server, timeout: float = 30.0) -> Iterator[Mailer]:
    """A session with `server`, secured and logged in; closed at the end of the block."""
    password = smtp_password(server)
    try:
        if server.security == "ssl":
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        mailer = Mailer(client)
        try:
            if server.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if server.username:
                client.login(server.username, password or "")
            yield mailer
        finally:
            mailer.close()
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailRefusedError({k: f"{code} {_text(reason)}" for k, (code, reason) in exc.recipients.items()}) from None
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        raise MailSendError(f"smtp: cannot send through {server.host}:{server.port} "
                            f"({type(exc).__name__}: {exc})") from None


def smtp_password(server: Server) -> str | None:
    """The password from the environment variable `password_env` names (None when it names none)."""
    if not server.password_env:
        return None
    password = os.environ.get(server.password_env)
    if not password:  # VEILLE_SMTP_PASSWORD= (empty) is a mistake, not a password
        raise MailError(f"smtp: the environment variable {server.password_env} is not set or empty; "
                        "export it with the SMTP password, then send again")
    return password


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else reason
