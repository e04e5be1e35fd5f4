from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def at(values: list[Any] | None, index: int) -> Any:
    """``values[index]``, or None past the end (a table's percentages may be shorter than its counts)."""
    if not values or index >= len(values):
        return None
    return values[index]


@register.filter
def make_list_of_words(text: str) -> list[str]:
    """``"csv json pdf"`` as ``["csv", "json", "pdf"]``."""
    return text.split()
