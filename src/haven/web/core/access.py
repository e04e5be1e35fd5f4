"""Permission checks shared by views, API handlers and actions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
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


def own_or_404(actor: Any, model: Any, pk: int) -> Any:
    """For views: the row of ``model`` with ``pk`` if it belongs to the actor's organisation, else 404."""
    from django.http import Http404

    from haven.web.core.errors import NotFound

    obj = model.objects.filter(pk=pk).first()
    try:
        same_organisation(actor, obj)
    except NotFound:
        raise Http404 from None
    return obj


def organisation_or_404(actor: Any) -> int:
    """For views: the actor's organisation (``staff_required`` lets nobody without one through)."""
    from django.http import Http404

    if actor.organisation_id is None:
        raise Http404
    return int(actor.organisation_id)


def client_address(request: HttpRequest) -> str:
    """The client's address as the server established it (``REMOTE_ADDR``), for the login lock-out."""
    return str(request.META.get("REMOTE_ADDR", ""))
