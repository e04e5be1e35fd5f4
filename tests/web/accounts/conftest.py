from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(autouse=True, scope="session")
def _static_root() -> None:
    # WhiteNoise warns (an error under filterwarnings=error) when STATIC_ROOT does not exist;
    # the test settings point it into a fresh temporary data dir.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
