"""Creating a training sandbox, filling it with synthetic cases, and resetting it.

A reset deletes every row the sandbox owns except its staff accounts, its audit trail and its
centre keys, then seeds it again.  It refuses any organisation that is not a sandbox, and it runs in
one transaction: should any row refuse to go, nothing is deleted."""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.actions import create_organisation, create_user
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core.errors import ActionError

# What a reset leaves: the trainees' accounts, the audit trail (a chain cannot lose links), the
# centre's keys, and the trainees' exercise results (their record, not practice data).  Every
# other row that names the organisation goes.
KEPT = frozenset(
    {
        "accounts.User",
        "accounts.Organisation",
        "audit.AuditEvent",
        "federation.CentreIdentity",
        "training.ExerciseResult",
    }
)
SYNTHETIC_CASES = 6
log = logging.getLogger(__name__)


@dataclass
class Seeded:
    cases: list[str] = field(default_factory=list)
    services: int = 0
    practice_web: bool = False


def synthetic_actor(org: Organisation) -> User:
    """The account that writes the sandbox's synthetic rows: an administrator nobody can sign in as."""
    username = f"{org.slug}.synthetic"
    user = User.objects.filter(username=username, organisation=org).first()
    if user is None:
        user = create_user(
            actor="sandbox",
            username=username,
            organisation=org,
            role=Role.ADMIN,
            password=secrets.token_urlsafe(24),
            check_password=False,
        )
        user.first_name = "Synthetic data"
        user.set_unusable_password()
        user.save(update_fields=["password", "first_name"])
    return user


def create_sandbox(
    *,
    actor: object,
    name: str,
    slug: str,
    country: str,
    time_zone: str = "UTC",
    training_for: Organisation | None = None,
) -> Organisation:
    """A new sandbox organisation, seeded (its staff are added as for any organisation)."""
    with transaction.atomic():
        org = create_organisation(
            actor=actor,
            name=name,
            slug=slug,
            country=country,
            time_zone=time_zone,
            sandbox=True,
            training_for=training_for,
        )
        seed(org)
    return org


def seed(org: Organisation, *, seed_value: int = 20) -> Seeded:
    """Synthetic cases (no real person), with consent and picture hashes, and services to refer to.

    Two cases hold the hashes of the practice forum's pictures (``core.practice``), so monitoring
    of that forum finds them; the rest hold random hashes."""
    from haven.signals import pdq_hash
    from haven.web.cases import actions
    from haven.web.cases.classification import Relationship, TfgbvType
    from haven.web.cases.models import CaseStatus, ConsentMethod, ConsentScope
    from haven.web.core.demo import random_pdq
    from haven.web.core.practice import original
    from haven.web.referrals.actions import add_service

    if not org.sandbox:
        raise ActionError(_("Only a training sandbox is given synthetic cases."))
    actor = synthetic_actor(org)
    rng = random.Random(seed_value)  # noqa: S311 - synthetic data, not secrets
    done = Seeded()
    for kind, name, contact in (
        ("police", _("Cyber crime unit (practice)"), "Tel. 000"),
        ("legal", _("Legal aid (practice)"), "Tel. 000"),
        ("psychological", _("Trauma counselling (practice)"), "Tel. 000"),
    ):
        add_service(actor=actor, kind=kind, name=str(name), contact=contact)
        done.services += 1
    done.practice_web = _practice_web(actor, org)
    today = timezone.localdate()
    for n in range(SYNTHETIC_CASES):
        case = actions.create_case(
            actor=actor,
            contact=f"(synthetic) +00-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            notes=str(_("Synthetic training case: no real person.")),
            tfgbv_type=rng.choice(list(TfgbvType.values)),
            relationship=rng.choice(list(Relationship.values)),
            platforms="example-forum",
            follow_up_on=today,
        )
        practice = {0: (1, 2, 3), 1: (4, 5, 6)}.get(n)
        scopes = (
            list(ConsentScope.values) if practice else [s for s in ConsentScope.values if rng.random() < 0.6]
        )
        for scope in scopes:
            actions.record_consent(
                actor=actor, case=case, scope=scope, granted=True, method=ConsentMethod.IN_PERSON
            )
        if practice:
            items = []
            for picture in practice:
                found = pdq_hash(original(picture))
                items.append(
                    actions.HashInput(
                        label=f"practice picture {picture}", pdq=str(found.hash), quality=found.quality
                    )
                )
        else:
            items = [
                actions.HashInput(label=f"photo {i + 1}", pdq=random_pdq(rng), quality=rng.randint(60, 100))
                for i in range(rng.randint(1, 3))
            ]
        actions.add_content(actor=actor, case=case, items=items)
        if n % 3 != 2:
            case = actions.change_status(actor=actor, case=case, status=CaseStatus.ACTIVE)
        done.cases.append(case.number)
    return done


def _practice_web(actor: User, org: Organisation) -> bool:
    """The sandbox's practice site (``training.practice``) in its platform directory and as a
    monitoring source, at the address the server reaches itself (HAVEN_BASE_URL).  Skipped (False)
    where the safe fetcher may not reach that address: a loopback one without
    HAVEN_FETCH_ALLOW_LOOPBACK, which `make run` and `haven serve --demo` set."""
    from urllib.parse import urlsplit

    from .practice import origin

    host = urlsplit(origin()).hostname or "127.0.0.1"
    try:
        _save_practice_web(actor, org, host)
    except ActionError as exc:
        log.warning("training sandbox %s: practice site not in its directory: %s", org.slug, exc)
        return False
    return True


def _save_practice_web(actor: User, org: Organisation, host: str) -> None:
    from haven.web.monitoring.actions import SourceInput, save_source
    from haven.web.takedown.actions import PlatformInput, save_platform
    from haven.web.takedown.models import PlatformKind

    from .practice import CONTACT, origin, prefix

    save_platform(
        actor=actor,
        data=PlatformInput(
            name="Practice web: forum and image host",
            kind=PlatformKind.FORUM,
            domains=(host,),
            abuse_email=CONTACT,
            country=org.country,
            regimes=("policy", "dsa", "take_it_down", "kr_deletion", "uk_osa"),
            response_hours=48,
            example=True,
        ),
    )
    save_source(
        actor=actor,
        # From the search page: its results reach every planted copy, and not the hostile pages,
        # which a trainee opens on purpose (a scan of them would only wait and fail).
        data=SourceInput(
            name="Practice web", kind="crawl", target=f"{origin()}{prefix(org)}search/?q=photos", depth=1
        ),
    )


def _owned_models() -> list[type[models.Model]]:
    from haven.web.accounts.models import Organisation

    found = []
    for model in apps.get_models():
        if model._meta.label in KEPT:
            continue
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is Organisation and f.name == "organisation":
                found.append(model)
                break
    return found


def reset(*, actor: object, organisation: Organisation) -> dict[str, int]:
    """Delete everything the sandbox holds except staff, audit trail and keys; seed it again.
    Returns how many rows of each kind went.  Refuses a real organisation."""
    from haven.web.cases.models import ContentItem, IndexChange

    with transaction.atomic():
        org = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if not org.sandbox:
            raise ActionError(
                _("%(name)s is not a training sandbox: only a sandbox can be reset.") % {"name": org.name}
            )
        # Tell every process's index that the pictures' hashes go (the log outlives the items).
        IndexChange.objects.bulk_create(
            IndexChange(content_item_id=pk, op=IndexChange.Op.REMOVE)
            for pk in ContentItem.objects.filter(organisation=org).values_list("pk", flat=True)
        )
        deleted: dict[str, int] = {}
        pending = _owned_models()
        # Rows refer to one another (a notice to its platform, a sighting to its case); a model
        # whose rows are still referred to waits for a later round.
        while pending:
            waiting = []
            for model in pending:
                try:
                    with transaction.atomic():
                        _total, per_model = model._default_manager.filter(organisation=org).delete()
                except (ProtectedError, RestrictedError):
                    waiting.append(model)
                    continue
                for label, n in per_model.items():
                    deleted[label] = deleted.get(label, 0) + n
            if len(waiting) == len(pending):
                names = ", ".join(m._meta.label for m in waiting)
                raise RuntimeError(f"the sandbox reset cannot delete rows of {names}")
            pending = waiting
        seeded = seed(org)
        append(
            actor=actor,
            event_type=EventType.SANDBOX_RESET,
            organisation=org,
            obj=org,
            summary={"deleted": {k: v for k, v in sorted(deleted.items()) if v}, "cases": seeded.cases},
        )
    return {k: v for k, v in deleted.items() if v}
