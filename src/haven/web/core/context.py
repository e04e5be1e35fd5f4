from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from haven.web.accounts.roles import Perm


def haven(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    can = {p.value: bool(user and user.is_authenticated and user.can(p)) for p in Perm}
    return {"can": can}
