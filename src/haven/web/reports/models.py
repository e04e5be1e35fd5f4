"""Figures other centres sent for pooling: already suppressed there, never a row of their data."""

from __future__ import annotations

from django.db import models


class PooledFigures(models.Model):
    """One peer centre's suppressed GBVIMS tables for one period, as it answered the last fetch."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    peer = models.ForeignKey("federation.Peer", on_delete=models.CASCADE, related_name="pooled_figures")
    period = models.CharField(max_length=7)  # 2026, 2026-Q3, 2026-11
    figures = models.JSONField()  # {"tables": [{"key", "columns", "rows": [{"code", "counts"}]}], "rules"}
    fetched_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "period"], name="one_figures_per_peer_period")]

    def __str__(self) -> str:
        return f"{self.peer_id} {self.period}"


class StoredReport(models.Model):
    """A report the worker made on the 1st of a month for the month before, kept for download.

    ``data`` holds the report as published (suppressed counts only), once per language.
    """

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=32)
    period = models.CharField(max_length=7)
    data = models.JSONField()  # {"en": Report.as_dict(), "ko": ...}
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name", "period"], name="one_stored_report_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.period}"
