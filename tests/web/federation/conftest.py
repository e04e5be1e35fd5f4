"""Two centres on one live server: A shares a case's photos, B imports A's feed over real HTTP.

Both organisations live in the test database; B reaches A's partner API through pytest-django's
live server exactly as it would reach another Haven (the peer client speaks HTTP, never the ORM).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings
from pytest_django.live_server_helper import LiveServer

from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.cases.models import Case
from haven.web.federation import actions
from haven.web.federation.models import Peer
from haven.web.sharing.actions import create_partner
from tests.web.conftest import Persona, _persona
from tests.web.sharing.conftest import client_of, make_partner, platform, shared_case
from tests.web.takedown.conftest import loopback, photo, site

__all__ = ["client_of", "loopback", "make_partner", "photo", "platform", "shared_case", "site"]


@pytest.fixture
def private_peers() -> Iterator[None]:
    with override_settings(HAVEN_PEER_ALLOW_PRIVATE=True):
        yield


@pytest.fixture
def b_admin(org_b: Organisation) -> Persona:
    return _persona("b-admin", org_b, Role.ADMIN)


@pytest.fixture
def b_officer(org_b: Organisation) -> Persona:
    return _persona("b-officer", org_b, Role.DELETION_OFFICER)


@pytest.fixture
def centre_keys(admin: Persona) -> dict[str, str]:
    """The keys A issued to B, a partner of kind centre."""
    _partner, keys = create_partner(
        actor=admin.user, organisation=admin.user.organisation, name="Centre B", kind="centre"
    )
    return keys.as_dict()


@pytest.fixture
def peer_of(b_admin: Persona, centre_keys: dict[str, str], private_peers: None) -> Callable[[str], Peer]:
    """B subscribes to A's feed at ``url``."""

    def make(url: str, **kwargs: Any) -> Peer:
        user: User = b_admin.user
        return actions.add_peer(
            actor=user, organisation=user.organisation, name="Centre A", url=url, keys=centre_keys, **kwargs
        )

    return make


@pytest.fixture
def a_peer(live_server: LiveServer, peer_of: Callable[[str], Peer], shared_case: Case) -> Peer:
    """B imports A's feed from the live server; A's case has two shared photos."""
    return peer_of(live_server.url)


@pytest.fixture
def b_counsellor(org_b: Organisation) -> Persona:
    return _persona("b-counsellor", org_b, Role.COUNSELLOR)
