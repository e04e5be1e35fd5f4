from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied


class ActionError(ValueError):
    """An action refused its input; the message is shown to the user as is."""


class NotFound(PermissionDenied):
    """No such object *for this user*: other organisations' rows look exactly like missing ones."""


def invalid_input(exc: Any) -> dict[str, Any]:
    """The body of a 422 for a django-ninja ``ValidationError``: where, what, and the errors."""
    errors = [
        {
            "loc": [str(part) for part in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors
    ]
    where = ", ".join(".".join(e["loc"]) for e in errors[:5])
    first = errors[0]["msg"] if errors else ""
    detail = f"invalid input: {where}: {first}" if where else "invalid input"
    return {"detail": detail, "errors": errors}
