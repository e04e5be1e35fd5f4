from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona


@pytest.fixture
def client_of() -> Callable[[Persona], Client]:
    """A browser session of the persona that passed both sign-in steps."""
    return lambda persona: signed_in(persona.user)
