from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "haven.web.monitoring"
    label = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        from haven.web.cases.actions import consent_withdrawn

        consent_withdrawn.connect(_withdrawn, dispatch_uid="monitoring.consent_withdrawn")

        from haven.web.cases.views import CASE_PANELS
        from haven.web.takedown.actions import TEXT_CHECKS

        from .actions import personal_info_present
        from .views import identifiers_panel

        if personal_info_present not in TEXT_CHECKS:
            TEXT_CHECKS.append(personal_info_present)
        if identifiers_panel not in CASE_PANELS:
            CASE_PANELS.append(identifiers_panel)


def _withdrawn(sender: Any, case: Any, scope: str, **kwargs: Any) -> None:
    """Consent to monitoring withdrawn: the case's unreviewed matches go at once."""
    from .actions import drop_pending

    if scope == "monitor":
        drop_pending(case)
