from __future__ import annotations

from django.core.exceptions import PermissionDenied


class ActionError(ValueError):
    """An action refused its input; the message is shown to the user as is."""


class NotFound(PermissionDenied):
    """No such object *for this user*: other organisations' rows look exactly like missing ones."""
