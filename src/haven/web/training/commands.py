"""``haven createorg --sandbox`` and ``haven sandbox reset``: what the CLI dispatches to."""

from __future__ import annotations

import io
import sys
from typing import TextIO

from haven.web.core.commands import migrate, setup


def create(slug: str, name: str, country: str, time_zone: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    migrate(io.StringIO())
    from haven.web.core.errors import ActionError

    from .sandbox import create_sandbox

    try:
        org = create_sandbox(actor="cli", name=name, slug=slug, country=country, time_zone=time_zone)
    except ActionError as exc:
        print(f"haven createorg: {exc}", file=sys.stderr)
        return 1
    print(
        f"created training sandbox {org.slug} with synthetic cases; add trainees with "
        f"`haven createuser NAME --org {org.slug} --role ...`",
        file=out,
    )
    return 0


def reset(slug: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    migrate(io.StringIO())
    from haven.web.accounts.models import Organisation
    from haven.web.core.errors import ActionError

    from .sandbox import reset as reset_sandbox

    org = Organisation.objects.filter(slug=slug).first()
    if org is None:
        print(f"haven sandbox reset: no organisation {slug!r}", file=sys.stderr)
        return 1
    try:
        deleted = reset_sandbox(actor="cli", organisation=org)
    except ActionError as exc:
        print(f"haven sandbox reset: {exc}", file=sys.stderr)
        return 1
    total = sum(deleted.values())
    print(f"reset training sandbox {org.slug}: {total} rows deleted, synthetic cases seeded again", file=out)
    return 0
