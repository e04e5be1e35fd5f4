"""What the `haven` web subcommands do (cli.py only parses arguments and calls these)."""

from __future__ import annotations

import gc
import os
import sys
from typing import TextIO

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def setup(*, loopback_http: bool = False) -> None:
    """Configure Django. ``loopback_http``: serving plain HTTP on this machine only, so
    cookies cannot be marked Secure (unless HAVEN_SECURE_COOKIES says otherwise)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.web.config.settings")
    if loopback_http:
        os.environ.setdefault("HAVEN_SECURE_COOKIES", "false")
    import django

    django.setup()


def migrate(out: TextIO) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0, stdout=out)
    call_command("createcachetable", verbosity=0, stdout=out)  # the shared cache (rate limits)


def serve(host: str, port: int, demo: bool, threads: int, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup(loopback_http=host in LOOPBACK)
    from django.conf import settings
    from django.db import connection

    if demo and not settings.DEBUG and connection.vendor != "sqlite":
        print(
            "haven serve: --demo is refused on a production database (debug off, not SQLite): "
            "demo accounts and invented cases must never mix with real ones.",
            file=sys.stderr,
        )
        return 2
    migrate(out)
    if demo:
        from .demo import seed_demo

        login = seed_demo()
        if login is not None:
            print("Demo organisation created (synthetic data only).", file=out)
            print(f"  Log in as:   {login.username}", file=out)
            print(f"  Password:    {login.password}", file=out)
            codes = "  ".join(login.backup_codes)
            print(f"  Second step: one of these backup codes (each works once): {codes}", file=out)
        else:
            print("Demo data already present; log in with the account printed on first start.", file=out)
    from waitress import create_server

    from haven.web.config.wsgi import application

    try:
        server = create_server(application, host=host.strip("[]"), port=port, threads=threads, ident="Haven")
    except OSError as exc:
        print(f"haven serve: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    print(f"Haven is running at http://{shown}:{port}/  (Ctrl+C to stop)", file=out, flush=True)
    # Django's modules and settings never die: keep them out of full collections, which otherwise
    # walk ~150,000 objects (70-80 ms) in the middle of whichever request is running.
    gc.collect()
    gc.freeze()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def create_organisation(
    slug: str,
    name: str,
    country: str,
    time_zone: str,
    child_protection_info: str = "",
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    setup()
    from haven.web.accounts.actions import create_organisation as create
    from haven.web.core.errors import ActionError

    try:
        org = create(
            actor="cli",
            name=name,
            slug=slug,
            country=country,
            time_zone=time_zone,
            child_protection_info=child_protection_info,
        )
    except ActionError as exc:
        print(f"haven createorg: {exc}", file=sys.stderr)
        return 1
    print(f"created organisation {org.slug}", file=out)
    return 0


def create_user(username: str, org: str, role: str, password: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    from haven.web.accounts.actions import create_user as create
    from haven.web.accounts.models import Organisation
    from haven.web.core.errors import ActionError

    organisation = Organisation.objects.filter(slug=org).first()
    if organisation is None:
        print(
            f"haven createuser: no organisation {org!r} (create it with `haven createorg`)", file=sys.stderr
        )
        return 1
    try:
        create(actor="cli", username=username, organisation=organisation, role=role, password=password)
    except ActionError as exc:
        print(f"haven createuser: {exc}", file=sys.stderr)
        return 1
    print(f"created {role} {username} in {organisation.slug}", file=out)
    return 0


def create_token(username: str, name: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    from haven.web.accounts.actions import create_token as create
    from haven.web.accounts.models import User

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        print(f"haven token create: no active user {username!r}", file=sys.stderr)
        return 1
    print(create(actor="cli", user=user, name=name), file=out)
    return 0


def audit_verify(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    from haven.web.audit.chain import verify

    checked, broken = verify()
    if broken is None:
        print(f"audit chain intact: {checked} events verified", file=out)
        return 0
    print(
        f"audit chain BROKEN at event #{broken.sequence}: {broken.reason} "
        f"({checked} events before it verified)",
        file=out,
    )
    return 1


def worker(batch: bool, out: TextIO | None = None) -> int:
    """Run background jobs until stopped (or, with ``batch``, until none are left)."""
    setup()
    from django.core.management import call_command

    from haven.web.monitoring.tasks import sweep as monitoring_sweep
    from haven.web.sharing.tasks import sweep as sharing_sweep
    from haven.web.takedown.tasks import sweep as takedown_sweep

    out = out or sys.stdout
    # Each sweep requeues itself: overdue deadlines, rechecks and scheduled scans missed while no
    # worker ran are caught up at once.
    takedown_sweep.enqueue()
    monitoring_sweep.enqueue()
    sharing_sweep.enqueue()
    argv = ["db_worker", "--queue-name", "*"]
    if batch:
        argv += ["--batch", "--no-startup-delay"]
    call_command(*argv, stdout=out)
    return 0


def rotate_keys(out: TextIO | None = None) -> int:
    """Queue the job that rewrites encrypted values under the current key."""
    setup()
    from .tasks import reencrypt_with_current_key

    out = out or sys.stdout
    result = reencrypt_with_current_key.enqueue()
    print(f"queued re-encryption job {result.id}; `haven worker` runs it", file=out)
    return 0


def partner_create(
    name: str,
    org: str,
    kind: str,
    contact: str,
    as_json: bool,
    rate_limit: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Register a sharing partner and print its keys (shown this once)."""
    import json

    out = out or sys.stdout
    setup()
    from haven.web.accounts.models import Organisation
    from haven.web.core.errors import ActionError
    from haven.web.sharing.actions import create_partner
    from haven.web.sharing.models import DEFAULT_RATE_LIMIT

    organisation = Organisation.objects.filter(slug=org).first()
    if organisation is None:
        print(f"haven partner create: no organisation {org!r}", file=sys.stderr)
        return 1
    try:
        partner, keys = create_partner(
            actor="cli",
            organisation=organisation,
            name=name,
            kind=kind,
            contact=contact,
            rate_limit=DEFAULT_RATE_LIMIT if rate_limit is None else rate_limit,
        )
    except ActionError as exc:
        print(f"haven partner create: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(keys.as_dict()), file=out)
        return 0
    print(
        f"registered {partner.kind} {partner.name} for {organisation.slug}; its keys (shown once):", file=out
    )
    print(f"  subscription key (Ocp-Apim-Subscription-Key): {keys.subscription_key}", file=out)
    print(f"  fetch key (x-functions-key for FetchHashes, feed): {keys.fetch_key}", file=out)
    print(f"  feedback key (SubmitFeedback, opinions):          {keys.feedback_key}", file=out)
    print(f"  submit key (SubmitHashes, hashes):                {keys.submit_key}", file=out)
    return 0


def partner_revoke(name: str, org: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    from haven.web.sharing.actions import revoke_partner
    from haven.web.sharing.models import Partner

    partner = Partner.objects.filter(organisation__slug=org, name=name).first()
    if partner is None:
        print(f"haven partner revoke: no partner {name!r} in {org!r}", file=sys.stderr)
        return 1
    revoke_partner(actor="cli", partner=partner)
    print(f"revoked {partner.name}: its keys no longer work", file=out)
    return 0


def sharing_approve(case_number: str, out: TextIO | None = None) -> int:
    """Mark every share-consented item of a case as reviewed and fit to share."""
    out = out or sys.stdout
    setup()
    from haven.web.cases.models import Case
    from haven.web.core.errors import ActionError
    from haven.web.sharing.actions import approve_items

    case = Case.objects.filter(number=case_number.strip().upper()).first()
    if case is None:
        print(f"haven sharing approve: no case {case_number!r}", file=sys.stderr)
        return 1
    try:
        result = approve_items(actor=_CliReviewer(case.organisation_id), case=case)
    except ActionError as exc:
        print(f"haven sharing approve: {exc}", file=sys.stderr)
        return 1
    print(f"{case.number}: {result.approved} item(s) now shared", file=out)
    for label, reason in result.skipped:
        print(f"  not shared: {label}: {reason}", file=sys.stderr)
    return 0


class _CliReviewer:
    """The operator at the command line, acting for the case's organisation: may approve sharing."""

    is_authenticated = True
    pk = None

    def __init__(self, organisation_id: int) -> None:
        self.organisation_id = organisation_id

    def can(self, perm: object) -> bool:
        from haven.web.accounts.roles import Perm

        return perm == Perm.APPROVE_SHARING

    def __str__(self) -> str:
        return "cli"
