from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TakedownConfig(AppConfig):
    name = "haven.web.takedown"
    label = "takedown"
    verbose_name = _("Takedown")

    def ready(self) -> None:
        from haven.web.cases.actions import consent_withdrawn
        from haven.web.cases.views import CASE_PANELS
        from haven.web.notifications.sources import SOURCES

        from .notifications import deadlines
        from .views import case_panel

        consent_withdrawn.connect(_withdrawn, dispatch_uid="takedown.consent_withdrawn")
        if case_panel not in CASE_PANELS:
            CASE_PANELS.append(case_panel)
        if deadlines not in SOURCES:
            SOURCES.append(deadlines)


def _withdrawn(sender: Any, case: Any, scope: str, **kwargs: Any) -> None:
    """Consent to takedown withdrawn: no notice drafted for the case may still be sent."""
    from .actions import close_unsent_notices

    if scope in ("takedown", "identify"):
        close_unsent_notices(case, actor="consent withdrawal")
