"""Database expressions shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, Func


class EpochSeconds(Func):
    """A timestamp as whole Unix seconds, computed by the database: rows read in bulk then build no
    datetime objects (turning each timestamp into a time-zone-aware datetime is what costs most
    when a query returns a hundred thousand of them)."""

    template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
    output_field = BigIntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Four %: formatting the template leaves %%s, which Django's SQLite cursor turns into %s
        # after rewriting placeholders.  With two, it became a placeholder, and every value 0.
        template = "CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template)
