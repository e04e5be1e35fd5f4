"""What every portal page shows of the centres: how to reach them, and where Quick exit goes."""

from __future__ import annotations

from django import template
from django.conf import settings

from haven.web.accounts.models import Organisation

register = template.Library()


@register.simple_tag
def portal_centres() -> list[Organisation]:
    return list(
        Organisation.objects.filter(sandbox=False)
        .order_by("name")
        .only(
            "pk",
            "name",
            "phone",
            "opening_hours",
            "emergency_numbers",
            "child_protection_info",
            "portal_exit_url",
        )
    )


@register.simple_tag
def portal_exit_url(centres: list[Organisation]) -> str:
    """The centre's own quick-exit address where this server has one centre; else the server's."""
    if len(centres) == 1 and centres[0].portal_exit_url.startswith("https://"):
        return centres[0].portal_exit_url
    return str(settings.HAVEN_PORTAL_EXIT_URL)


@register.filter
def tel(number: str) -> str:
    """A phone number as a ``tel:`` address: its digits and a leading +, nothing else."""
    digits = "".join(c for c in number if c.isdigit())
    return f"+{digits}" if number.strip().startswith("+") else digits
