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
