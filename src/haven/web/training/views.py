"""Training pages in a sandbox: the mailbox, the exercises, the trainer's view and certificates."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Perm, Role
from haven.web.core.errors import ActionError, NotFound

from . import actions
from .exercises import EXERCISES, Exercise
from .models import ExerciseResult, SandboxMail


def _sandbox(user: User) -> Organisation:
    if user.organisation is None or not user.organisation.sandbox:
        raise Http404  # a real centre has no mailbox and no exercises
    return user.organisation


def _trainees(org: Organisation) -> list[User]:
    return list(
        User.objects.filter(organisation=org, is_active=True)
        .exclude(username=f"{org.slug}.synthetic")
        .order_by("username")
    )


def _results(users: list[User]) -> dict[tuple[int, str], ExerciseResult]:
    return {(r.user_id, r.code): r for r in ExerciseResult.objects.filter(user__in=users)}


def _progress(org: Organisation) -> list[tuple[User, list[tuple[Exercise, ExerciseResult | None]], bool]]:
    """Each trainee of a sandbox: her result for each exercise, and whether she finished them all."""
    people = _trainees(org)
    results = _results(people)
    rows = []
    for person in people:
        cells = [(e, results.get((person.pk, e.code))) for e in EXERCISES]
        rows.append((person, cells, all(r is not None and r.completed_at for _e, r in cells)))
    return rows


@require_GET
@staff_required(None)
def mailbox(request: HttpRequest) -> HttpResponse:
    org = _sandbox(staff_user(request))
    page = Paginator(SandboxMail.objects.filter(organisation=org), 25).get_page(request.GET.get("page"))
    from .practice import CONTACT, prefix

    return render(
        request, "training/mailbox.html", {"page": page, "contact": CONTACT, "practice": prefix(org)}
    )


@require_GET
@staff_required(None)
def exercises(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    _sandbox(user)
    results = _results([user])
    rows = [(e, results.get((user.pk, e.code))) for e in EXERCISES]
    done = sum(1 for _e, r in rows if r is not None and r.completed_at)
    return render(request, "training/exercises.html", {"rows": rows, "done": done, "total": len(EXERCISES)})


@require_POST
@staff_required(None)
def check(request: HttpRequest, code: str) -> HttpResponse:
    user = staff_user(request)
    _sandbox(user)
    try:
        result = actions.check_exercise(actor=user, code=code)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        if result.missed:
            messages.warning(request, _("Not done yet: see what is missing below."))
        else:
            messages.success(request, _("Done: this exercise is complete."))
    return redirect(reverse("training:exercises") + f"#exercise-{code}")


@require_GET
@staff_required(Perm.MANAGE_USERS)
def trainees(request: HttpRequest) -> HttpResponse:
    """The trainer's view: each trainee's progress through the exercises."""
    org = _sandbox(staff_user(request))
    return render(request, "training/trainees.html", {"rows": _progress(org), "exercises": EXERCISES})


@require_GET
@staff_required(None)
def certificate(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    """A trainee's certificate (her own; a trainer may fetch any trainee's), once every exercise is done."""
    from haven.web.core.pdf import pdf_language, render_pdf

    viewer = staff_user(request)
    org = _sandbox(viewer)
    trainee = viewer
    if user_id is not None and user_id != viewer.pk:
        if not viewer.can(Perm.MANAGE_USERS):
            raise Http404
        found = User.objects.filter(pk=user_id, organisation=org).first()
        if found is None:
            raise Http404
        trainee = found
    results = _results([trainee])
    done = [(e, results.get((trainee.pk, e.code))) for e in EXERCISES]
    if not all(r is not None and r.completed_at for _e, r in done):
        raise Http404
    language = pdf_language(get_language())
    with override(language):
        name = trainee.get_full_name() or trainee.username
        lines = [
            _("%(name)s completed every guided exercise of Haven's training sandbox %(sandbox)s:")
            % {"name": name, "sandbox": org.name},
            "",
        ]
        for exercise, result in done:
            when = (
                formats.date_format(result.completed_at, "DATE_FORMAT")
                if result and result.completed_at
                else ""
            )
            lines.append(f"- {exercise.title} ({when})")
        lines += ["", _("Each exercise was checked against what the trainee did in the sandbox.")]
        data = render_pdf(str(_("Training certificate")), "\n".join(lines), language=language, footer="Haven")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{trainee.username}.pdf"'
    return response


# ---- a real centre's administrators: its training sandboxes ------------------------------------


def _managed(user: User, sandbox_id: int) -> Organisation:
    found = Organisation.objects.filter(
        pk=sandbox_id, sandbox=True, training_for_id=user.organisation_id
    ).first()
    if found is None:
        raise Http404
    return found


def _sandboxes_page(request: HttpRequest, user: User, **extra: object) -> HttpResponse:
    sandboxes = []
    for org in Organisation.objects.filter(training_for_id=user.organisation_id, sandbox=True).order_by("pk"):
        sandboxes.append({"org": org, "rows": _progress(org)})
    return render(
        request,
        "training/sandboxes.html",
        {
            "sandboxes": sandboxes,
            "exercises": EXERCISES,
            "roles": [(v, label) for v, label in Role.choices],
            **extra,
        },
    )


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_USERS)
def sandboxes(request: HttpRequest) -> HttpResponse:
    """A real centre's training sandboxes: make one in one click, add trainees, see progress, reset."""
    user = staff_user(request)
    if user.organisation is None or user.organisation.sandbox:
        raise Http404
    if request.method == "POST":
        try:
            made = actions.new_sandbox(actor=user, name=request.POST.get("name", ""))
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Training sandbox %(name)s is ready.") % {"name": made.name})
        return redirect("training:sandboxes")
    return _sandboxes_page(request, user)


@require_POST
@staff_required(Perm.MANAGE_USERS)
def add_trainee(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    user = staff_user(request)
    sandbox = _managed(user, sandbox_id)
    try:
        trainee, password = actions.add_trainee(
            actor=user,
            sandbox=sandbox,
            username=request.POST.get("username", ""),
            role=request.POST.get("role", ""),
        )
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect("training:sandboxes")
    # Shown on this answer only, never stored in a message or a session.
    response = _sandboxes_page(request, user, new_trainee=trainee, new_password=password, new_in=sandbox)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@staff_required(Perm.MANAGE_USERS)
def remove_trainee(request: HttpRequest, sandbox_id: int, user_id: int) -> HttpResponse:
    user = staff_user(request)
    sandbox = _managed(user, sandbox_id)
    trainee = User.objects.filter(pk=user_id, organisation=sandbox, is_active=True).first()
    if trainee is None:
        raise Http404
    try:
        actions.remove_trainee(actor=user, sandbox=sandbox, user=trainee)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("%(name)s can no longer sign in.") % {"name": trainee.username})
    return redirect("training:sandboxes")


@require_POST
@staff_required(Perm.MANAGE_USERS)
def reset_sandbox(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    user = staff_user(request)
    sandbox = _managed(user, sandbox_id)
    actions.reset_sandbox(actor=user, sandbox=sandbox)
    messages.success(request, _("%(name)s is back to a fresh state.") % {"name": sandbox.name})
    return redirect("training:sandboxes")
