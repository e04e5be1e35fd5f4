"""Permission checks shared by views, API handlers and actions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from haven.web.accounts.roles import Perm


def require(actor: Any, perm: Perm) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.can(perm):
        raise PermissionDenied(_("You do not have permission to do this."))


def same_organisation(actor: Any, obj: Any) -> None:
    """Refuse any object of another organisation (callers turn this into a 404)."""
    from haven.web.core.errors import NotFound

    if obj is None or actor.organisation_id is None or obj.organisation_id != actor.organisation_id:
        raise NotFound
