"""A real SMTP server on localhost for the tests (aiosmtpd), keeping every message it receives."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    """Collects the messages the server accepts (envelope recipients and parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd hook)
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(monkeypatch) -> Iterator[tuple[Inbox, str]]:
    """(inbox, smtp://127.0.0.1:PORT) of a running server; DASHBOARD_SMTP_URL points at it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    url = f"smtp://127.0.0.1:{port}"
    monkeypatch.setenv("DASHBOARD_SMTP_URL", url)
    try:
        yield inbox, url
    finally:
        controller.stop()
