"""Personas for permission tests: every endpoint is tried by each of them.

* ``counsellor`` — the case's counsellor (owner), organisation A
* ``colleague``  — another counsellor in organisation A
* ``officer``    — a deletion officer in organisation A
* ``reviewer``   — a reviewer of monitoring matches in organisation A
* ``analyst``    — an analyst in organisation A
* ``admin``      — an administrator of organisation A
* ``outsider``   — a counsellor of organisation B, who must never see A's rows
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client, override_settings

from haven.web.accounts.actions import create_token
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.cases import actions
from haven.web.cases.matching import reset_content_index
from haven.web.cases.models import Case
from haven.web.federation.matching import reset_imported_index
from tests.processes import free_port

PASSWORD = "correct horse battery staple"


@dataclass
class Persona:
    user: User
    token: str

    def api(self) -> Client:
        return Client(headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    reset_content_index()
    reset_imported_index()
    yield
    reset_content_index()
    reset_imported_index()


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Iterator[None]:
    """For tests that call the app through WSGI (schemathesis): the app would close the database
    connection at the end of each request, and with it the test's transaction; Django's test client
    disconnects the same handlers."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def org_a(db: None) -> Organisation:
    return Organisation.objects.create(name="Centre A", slug="centre-a", country="KR", time_zone="Asia/Seoul")


@pytest.fixture
def org_b(db: None) -> Organisation:
    return Organisation.objects.create(
        name="Centre B", slug="centre-b", country="DE", time_zone="Europe/Berlin"
    )


def _persona(username: str, org: Organisation, role: str) -> Persona:
    user = User.objects.create_user(username=username, password=PASSWORD, organisation=org, role=role)
    return Persona(user, create_token(actor=user, user=user))


@pytest.fixture
def counsellor(org_a: Organisation) -> Persona:
    return _persona("counsellor", org_a, Role.COUNSELLOR)


@pytest.fixture
def colleague(org_a: Organisation) -> Persona:
    return _persona("colleague", org_a, Role.COUNSELLOR)


@pytest.fixture
def officer(org_a: Organisation) -> Persona:
    return _persona("officer", org_a, Role.DELETION_OFFICER)


@pytest.fixture
def reviewer(org_a: Organisation) -> Persona:
    return _persona("reviewer", org_a, Role.REVIEWER)


@pytest.fixture
def analyst(org_a: Organisation) -> Persona:
    return _persona("analyst", org_a, Role.ANALYST)


@pytest.fixture
def admin(org_a: Organisation) -> Persona:
    return _persona("admin", org_a, Role.ADMIN)


@pytest.fixture
def outsider(org_b: Organisation) -> Persona:
    return _persona("outsider", org_b, Role.COUNSELLOR)


@pytest.fixture
def case(counsellor: Persona) -> Case:
    return actions.create_case(
        actor=counsellor.user,
        contact="010-1234-5678, text only after 6 pm",
        notes="first contact by phone",
        tfgbv_type="non_consensual_distribution",
        relationship="former_partner",
        platforms="example-forum",
    )


# --- mail -----------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What a real SMTP server on 127.0.0.1 received."""

    messages: list[EmailMessage] = field(default_factory=list)
    on_message: Callable[[EmailMessage], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1, with Django's SMTP backend pointed at it."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_USE_TLS=False,
            DEFAULT_FROM_EMAIL="takedown@centre-a.example",
        ):
            yield box
    finally:
        controller.stop()
