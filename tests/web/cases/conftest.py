from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona


@pytest.fixture(autouse=True, scope="session")
def _static_root() -> None:
    # WhiteNoise warns (an error under filterwarnings=error) when STATIC_ROOT does not exist;
    # the test settings point it into a fresh temporary data dir.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def client_of() -> Callable[[Persona], Client]:
    """A browser session of the persona that passed both sign-in steps."""
    return lambda persona: signed_in(persona.user)
