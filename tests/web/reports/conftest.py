from __future__ import annotations

import pytest

from haven.web.accounts.models import Organisation
from haven.web.reports.synthetic import History, make_history


@pytest.fixture
def history(org_a: Organisation) -> History:
    return make_history(org_a, year=2025, cases=400, seed=7)
