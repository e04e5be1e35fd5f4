from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "haven.web.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        # The figures endpoint lives on the federation API; federation must not import reports.
        from . import api  # noqa: F401
