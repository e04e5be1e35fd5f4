"""Synthetic demo data for `haven serve --demo`: one organisation, staff, and invented cases."""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from haven.signals import PdqHash
from haven.web.accounts.actions import create_organisation, create_user
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.cases import actions
from haven.web.cases.classification import Relationship, TfgbvType
from haven.web.cases.models import CaseStatus, ConsentMethod, ConsentScope
from haven.web.reports.synthetic import make_history
from haven.web.takedown.demo import seed_takedown


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    backup_codes: list[str]


def _backup_codes(user: User, n: int = 5) -> list[str]:
    device = StaticDevice.objects.create(user=user, name="demo backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(n)]
    for code in codes:
        device.token_set.create(token=code)
    return codes


def random_pdq(rng: random.Random) -> str:
    bits = rng.sample(range(256), 128)  # real PDQ hashes have exactly 128 bits set
    return str(PdqHash(sum(1 << b for b in bits)))


def seed_practice(*, admin: User, officer: User, cases: list[Any], origin: str) -> None:
    """What makes the demo's monitoring and takedown desk work with no network: the practice forum
    that this server serves (``core.practice``) as a monitoring source and a platform, two cases
    holding the hashes of its pictures, services to refer to, two sightings on it, and a job for
    the worker, which captures their evidence, sends a notice and rechecks them over loopback once
    the server listens."""
    from haven.signals import pdq_hash
    from haven.web.monitoring.actions import SourceInput, save_source
    from haven.web.referrals.actions import add_service, refer
    from haven.web.takedown.actions import PlatformInput, add_sightings, save_platform
    from haven.web.takedown.models import PlatformKind

    from .practice import original
    from .tasks import demo_takedown

    for kind, name, contact in (
        ("police", "Cyber crime unit (demo)", "Tel. 182"),
        ("legal", "Legal aid for survivors (demo)", "Tel. 132"),
        ("psychological", "Trauma counselling (demo)", "Tel. 1366"),
    ):
        service = add_service(actor=admin, kind=kind, name=name, contact=contact)
    held = {0: (1, 2, 3), 1: (4, 5, 6)}
    for index, pictures in held.items():
        case = cases[index]
        for scope in (ConsentScope.MONITOR, ConsentScope.TAKEDOWN, ConsentScope.SERVICES):
            actions.record_consent(
                actor=admin, case=case, scope=scope, granted=True, method=ConsentMethod.IN_PERSON
            )
        items = []
        for n in pictures:
            found = pdq_hash(original(n))
            items.append(
                actions.HashInput(label=f"forum picture {n}", pdq=str(found.hash), quality=found.quality)
            )
        actions.add_content(actor=admin, case=case, items=items)
    refer(actor=admin, case=cases[0], service=service)
    save_source(
        actor=admin,
        data=SourceInput(name="Practice forum (demo)", kind="crawl", target=f"{origin}/practice/", depth=1),
    )
    host = origin.split("//", 1)[1].split(":", 1)[0]
    save_platform(
        actor=admin,
        data=PlatformInput(
            name="Example forum (practice site)",
            kind=PlatformKind.FORUM,
            domains=(host,),
            web_form_url=f"{origin}/practice/",
            country="KR",
            regimes=("policy",),
            response_hours=48,
            example=True,
        ),
    )
    sightings = add_sightings(
        actor=admin,
        case=cases[1],
        urls=[f"{origin}/practice/post/4/", f"{origin}/practice/post/5/"],
        source="counsellor",
    )
    pks = [s.pk for s in sightings.created]
    transaction.on_commit(lambda: demo_takedown.enqueue(pks, officer.pk))


def seed_demo(seed: int = 2024, practice_origin: str = "") -> DemoLogin | None:
    """Create the demo organisation on an empty database; return the login to print, or None.
    With ``practice_origin`` (this server's own address), the demo's monitoring and takedown desk
    work against the practice forum it serves (see :func:`seed_practice`)."""
    if Organisation.objects.exists():
        return None
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        org = create_organisation(
            actor="demo",
            name="Demo Support Centre",
            slug="demo",
            country="KR",
            time_zone="Asia/Seoul",
            languages="ko,en",
        )
        # An invented office number beside Korea's real emergency and youth lines, so that the
        # portal shows the block a real centre fills in on its Centre page.
        Organisation.objects.filter(pk=org.pk).update(
            phone="02-0000-0000",
            opening_hours="Mon–Fri 9:00–18:00 (demo)",
            emergency_numbers="Police: 112\nEmergency: 119",
            child_protection_info="Youth counselling: 1388",
        )
        org.refresh_from_db()
        demo = create_user(
            actor="demo",
            username="demo",
            organisation=org,
            role=Role.ADMIN,
            password=password,
            check_password=False,
        )
        staff = [demo]
        for name, role in (
            ("minji", Role.COUNSELLOR),
            ("officer", Role.DELETION_OFFICER),
            ("analyst", Role.ANALYST),
        ):
            staff.append(
                create_user(
                    actor="demo",
                    username=name,
                    organisation=org,
                    role=role,
                    password=secrets.token_urlsafe(16),
                    check_password=False,
                )
            )
        counsellors = [u for u in staff if u.role in (Role.ADMIN, Role.COUNSELLOR)]
        types = list(TfgbvType.values)
        relationships = list(Relationship.values)
        today = timezone.localdate()
        cases = []
        for _ in range(14):
            author = rng.choice(counsellors)
            case = actions.create_case(
                actor=author,
                contact=f"(synthetic) +82-10-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                notes="(synthetic demo case — no real person)",
                tfgbv_type=rng.choice(types),
                relationship=rng.choice(relationships),
                platforms=rng.choice(["example-forum", "example-video-site", "example-messenger", ""]),
                minor_when_made=rng.random() < 0.1,
                follow_up_on=today + dt.timedelta(days=rng.randint(-3, 14)),
            )
            for scope in ConsentScope.values:
                if rng.random() < 0.7:
                    actions.record_consent(
                        actor=author, case=case, scope=scope, granted=True, method=ConsentMethod.IN_PERSON
                    )
            actions.add_content(
                actor=author,
                case=case,
                items=[
                    actions.HashInput(
                        label=f"photo {i + 1}", pdq=random_pdq(rng), quality=rng.randint(60, 100)
                    )
                    for i in range(rng.randint(1, 4))
                ],
            )
            target = rng.choice(
                [CaseStatus.INTAKE, CaseStatus.ACTIVE, CaseStatus.MONITORING, CaseStatus.CLOSED]
            )
            path = {
                CaseStatus.INTAKE: [],
                CaseStatus.ACTIVE: [CaseStatus.ACTIVE],
                CaseStatus.MONITORING: [CaseStatus.ACTIVE, CaseStatus.MONITORING],
                CaseStatus.CLOSED: [CaseStatus.ACTIVE, CaseStatus.CLOSED],
            }[target]
            for status in path:
                case = actions.change_status(actor=author, case=case, status=status)
            if target != CaseStatus.CLOSED:
                cases.append(case)
        seed_takedown(actor=demo, cases=cases, rng=rng)
        if practice_origin:
            officer = next(u for u in staff if u.role == Role.DELETION_OFFICER)
            seed_practice(admin=demo, officer=officer, cases=cases, origin=practice_origin)
        # A year and a bit of invented history, so that every report has figures to show.
        now = timezone.now()
        make_history(org, year=now.year - 1, cases=420, seed=seed, reviewer=demo)
        make_history(
            org,
            year=now.year,
            cases=max(int(420 * now.timetuple().tm_yday / 365), 1),
            seed=seed + 1,
            until=now,
            reviewer=demo,
        )
        codes = _backup_codes(demo)
    return DemoLogin("demo", password, codes)
