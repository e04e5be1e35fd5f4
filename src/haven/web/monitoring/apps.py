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


def _withdrawn(sender: Any, case: Any, scope: str, **kwargs: Any) -> None:
    """Consent to monitoring withdrawn: the case's unreviewed matches go at once."""
    from .actions import drop_pending

    if scope == "monitor":
        drop_pending(case)
