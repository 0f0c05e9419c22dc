"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives."""

from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage
    at: float

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def parts(self, content_type: str) -> list[bytes]:
        """The content of every part of this type (inline images included)."""
        return [
            part.get_payload(decode=True)
            for part in self.message.walk()
            if part.get_content_type() == content_type
        ]

    def attachments(self, extension: str) -> list[tuple[str, bytes]]:
        """(file name, content) of each attachment whose name ends so."""
        found = []
        for part in self.message.walk():
            name = part.get_filename() or ""
            if name.lower().endswith(extension):
                found.append((name, part.get_payload(decode=True)))
        return found


class Mailbox:
    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)  # type: ignore[attr-defined]
        with self._lock:
            self.messages.append(
                Received(list(envelope.rcpt_tos), message, time.time())  # type: ignore[attr-defined]
            )
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def received(self, since: float = 0.0) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.at >= since]

    def wait_for(
        self, predicate: object, count: int = 1, since: float = 0.0, timeout: float = 240
    ) -> list[Received]:
        """The messages received since `since` that satisfy `predicate`, once there are
        `count` of them; fails after `timeout` seconds with what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.received(since) if predicate(m)]  # type: ignore[operator]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                subjects = [(m.subject, m.recipients) for m in self.received(since)]
                raise AssertionError(
                    f"{len(found)} of {count} expected mail(s) within {timeout:.0f} s; "
                    f"received: {subjects}"
                )
            time.sleep(1)
