"""What the operations tests share: a real SMTP server on 127.0.0.1, and a fresh mail probe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from haven.web.core import health
from tests.processes import free_port
from tests.web.conftest import Mailbox


@pytest.fixture
def smtp_server() -> Iterator[int]:
    """A real SMTP server that accepts everything; its port."""
    port = free_port()
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _forget_mail_probe() -> Iterator[None]:
    """The mail check remembers its answer for a minute; each test asks afresh."""
    health._smtp_last = None
    yield
    health._smtp_last = None
