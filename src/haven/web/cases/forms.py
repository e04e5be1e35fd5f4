"""Forms check and shape input; every write is then made by an action in ``actions.py``."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from haven.web.accounts.forms import StaffForm
from haven.web.accounts.models import User
from haven.web.accounts.roles import MATRIX, Perm
from haven.web.core.errors import ActionError

from .actions import HashInput, clean_extra
from .classification import (
    AgeBand,
    HarmType,
    IntakeChannel,
    ReferralSource,
    Relationship,
    RiskLevel,
    SurvivorSex,
    TfgbvType,
)
from .models import (
    FOLLOW_UP_TEXT_MAX,
    NOTE_MAX,
    TRANSITIONS,
    CaseStatus,
    ConsentMethod,
    ConsentScope,
    ContentKind,
)

MAX_PASTED_ITEMS = 500

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


if TYPE_CHECKING:
    _UserChoiceField = forms.ModelChoiceField[User]
else:
    _UserChoiceField = forms.ModelChoiceField


class ColleagueChoiceField(_UserChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.username})" if name else str(obj.username)


def colleagues(user: User) -> Any:
    """Active members of the user's organisation whose role may work on cases."""
    roles = [role for role, perms in MATRIX.items() if Perm.VIEW_CASES in perms]
    return User.objects.filter(organisation=user.organisation, is_active=True, role__in=roles).order_by(
        "username"
    )


class ClassificationForm(StaffForm):
    tfgbv_type = forms.ChoiceField(
        label=_("Type of abuse"), required=False, choices=[("", _("Not yet known")), *TfgbvType.choices]
    )
    relationship = forms.ChoiceField(
        label=_("Relationship to the perpetrator"),
        required=False,
        choices=[("", _("Not yet known")), *Relationship.choices],
    )
    platforms = forms.CharField(
        label=_("Platforms involved"),
        required=False,
        max_length=500,
        help_text=_("Sites or apps where the content was seen or the abuse happened, separated by commas."),
    )
    minor_when_made = forms.BooleanField(
        label=_("The survivor was under 18 when the content was made"),
        required=False,
        help_text=_("Switches the case to the child-protection path."),
    )
    follow_up_on = forms.DateField(
        label=_("Follow up on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    assignee = ColleagueChoiceField(
        label=_("Assigned to"), queryset=User.objects.none(), required=False, empty_label=_("Nobody yet")
    )
    # For anonymised statistics only: reports count these, never show them per case.
    survivor_sex = forms.ChoiceField(
        label=_("Survivor's sex"), required=False, choices=[("", _("Not known")), *SurvivorSex.choices]
    )
    survivor_age_band = forms.ChoiceField(
        label=_("Survivor's age when the centre was contacted"),
        required=False,
        choices=[("", _("Not known")), *AgeBand.choices],
    )
    incident_on = forms.DateField(
        label=_("When the abuse happened"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("An approximate date is enough: reports use only the time from it to first contact."),
    )
    harm_types = forms.MultipleChoiceField(
        label=_("Harms"), required=False, choices=HarmType.choices, widget=forms.CheckboxSelectMultiple
    )
    personal_info_leaked = forms.BooleanField(
        label=_("Personal information (name, address, phone) was leaked with the content"), required=False
    )
    reported_elsewhere = forms.BooleanField(
        label=_("Also reported to another centre"),
        required=False,
        help_text=_("Pooled figures leave the case out, so that no survivor is counted twice."),
    )
    intake_channel = forms.ChoiceField(
        label=_("How she reached the centre"),
        required=False,
        choices=[("", _("Not recorded")), *IntakeChannel.choices],
    )
    referral_source = forms.ChoiceField(
        label=_("Who sent her"), required=False, choices=[("", _("Not recorded")), *ReferralSource.choices]
    )
    risk_level = forms.ChoiceField(
        label=_("Risk to her safety now"),
        required=False,
        choices=[("", _("Not assessed yet")), *RiskLevel.choices],
        help_text=_("Write the safety plan with the contact details: it is kept encrypted."),
    )
    risk_assessed_on = forms.DateField(
        label=_("Risk assessed on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = colleagues(user)  # type: ignore[attr-defined]

    def action_fields(self) -> dict[str, Any]:
        """The cleaned values, named as the case actions expect them."""
        data = self.cleaned_data
        return {name: data[name] for name in ClassificationForm.base_fields}


class CaseForm(ClassificationForm):
    contact = forms.CharField(
        label=_("Contact details"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How and when the survivor may be contacted safely. Stored encrypted."),
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Stored encrypted; shown only on request, and every viewing is recorded."),
    )

    field_order = [
        "contact",
        "notes",
        "tfgbv_type",
        "relationship",
        "platforms",
        "minor_when_made",
        "follow_up_on",
        "assignee",
        "survivor_sex",
        "survivor_age_band",
        "incident_on",
        "harm_types",
        "personal_info_leaked",
        "reported_elsewhere",
    ]


class StatusForm(StaffForm):
    status = forms.ChoiceField(label=_("New status"))

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS.get(current, frozenset())
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in CaseStatus.choices if value in allowed
        ]


class ConsentForm(StaffForm):
    scope = forms.ChoiceField(label=_("Consent to"), choices=ConsentScope.choices)
    granted = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("yes", _("Grant")), ("no", _("Withdraw"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    method = forms.ChoiceField(label=_("How the survivor told us"), choices=ConsentMethod.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class ConsentAllForm(StaffForm):
    """Every purpose at once, ticked as the survivor decided; only the ones that change are recorded."""

    method = forms.ChoiceField(label=_("How the survivor told us"), choices=ConsentMethod.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, current: dict[str, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current
        for scope, label in ConsentScope.choices:
            self.fields[f"scope_{scope}"] = forms.BooleanField(
                label=label, required=False, initial=current[scope]
            )
        # The purposes first, then how she told us.
        self.order_fields([f"scope_{scope}" for scope in ConsentScope.values] + ["method", "note"])

    def scope_fields(self) -> list[Any]:
        return [self[f"scope_{scope}"] for scope in ConsentScope.values]

    def decisions(self) -> dict[str, bool]:
        """The purposes whose decision changes: scope -> granted."""
        wanted = {scope: bool(self.cleaned_data.get(f"scope_{scope}")) for scope in ConsentScope.values}
        return {scope: on for scope, on in wanted.items() if on != self.current[scope]}


class FollowUpForm(StaffForm):
    text = forms.CharField(
        label=_("What is to be done"),
        max_length=FOLLOW_UP_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown on the dashboard of the person it is assigned to. Keep personal details out."),
    )
    due_on = forms.DateField(
        label=_("Due on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    assignee = ColleagueChoiceField(label=_("Assigned to"), queryset=User.objects.none())

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"assignee": user.pk})
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = colleagues(user)  # type: ignore[attr-defined]


class SafetyPlanForm(StaffForm):
    text = forms.CharField(
        label=_("Safety plan"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Who she can call, safe places and times, what to do if he gets in touch. Kept encrypted."
        ),
    )


class NoteForm(StaffForm):
    text = forms.CharField(
        label=_("New note"),
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Kept encrypted, dated and signed with your name; read with the contact details."),
    )


class SearchForm(StaffForm):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_(
            "Case number, platform or colleague. Contact details and notes are encrypted: not searched."
        ),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *CaseStatus.choices]
    )
    tfgbv_type = forms.ChoiceField(
        label=_("Type of abuse"), required=False, choices=[("", _("Any type")), *TfgbvType.choices]
    )
    assignee = forms.ChoiceField(
        label=_("Assigned to"),
        required=False,
        choices=[("", _("Anyone")), ("me", _("Me")), ("none", _("Nobody yet"))],
    )


class BulkCaseForm(StaffForm):
    """Several cases at once from the case list: assign them, or close them."""

    case = forms.MultipleChoiceField(choices=(), required=True)
    do = forms.ChoiceField(choices=[("assign", "assign"), ("close", "close")])
    assignee = ColleagueChoiceField(queryset=User.objects.none(), required=False, label=_("Assign to"))

    def __init__(self, *args: Any, user: User, numbers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["case"].choices = [(n, n) for n in numbers]  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = colleagues(user)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("do") == "assign" and not cleaned.get("assignee"):
            self.add_error("assignee", _("Choose who the cases go to."))
        return cleaned


def _hex(value: Any, pattern: re.Pattern[str], what: str | Promise, line: int | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str) and pattern.fullmatch(value.strip()):
        return value.strip().lower()
    digits = 64 if pattern is _HEX64 else 32
    if line is None:
        message = _("The %(what)s must be %(digits)s hexadecimal characters (0-9, a-f).")
    else:
        message = _("Line %(line)s: the %(what)s must be %(digits)s hexadecimal characters (0-9, a-f).")
    raise forms.ValidationError(message, params={"what": what, "digits": digits, "line": line})


def _quality(value: Any, line: int | None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
        return value
    if line is None:
        raise forms.ValidationError(_("The quality must be a whole number from 0 to 100."))
    raise forms.ValidationError(
        _("Line %(line)s: the quality must be a whole number from 0 to 100."), params={"line": line}
    )


def _item(record: dict[str, Any], label: str, line: int | None) -> HashInput:
    pdq = _hex(record.get("pdq"), _HEX64, _("PDQ hash"), line)
    md5 = _hex(record.get("md5"), _HEX32, _("MD5 digest"), line)
    sha256 = _hex(record.get("sha256"), _HEX64, _("SHA-256 digest"), line)
    if not (pdq or md5 or sha256):
        if line is None:
            raise forms.ValidationError(_("Give at least one hash: PDQ, MD5 or SHA-256."))
        raise forms.ValidationError(
            _("Line %(line)s has no hash: it needs a PDQ, MD5 or SHA-256 value."), params={"line": line}
        )
    dihedral = record.get("pdq_dihedral") or []
    if not isinstance(dihedral, list) or len(dihedral) not in (0, 8):
        raise forms.ValidationError(
            _("Line %(line)s: pdq_dihedral must list the 8 rotated and flipped hashes."),
            params={"line": line},
        )
    # ``haven hash --robust`` adds the photo's crop signals; checked here to name the line.
    extra = record.get("extra")
    try:
        clean_extra(extra)
    except ActionError as exc:
        raise forms.ValidationError(
            _("Line %(line)s: %(error)s"), params={"line": line, "error": str(exc)}
        ) from None
    # A video (hashed on the case page, or by ``haven hash --videos``) keeps its frame hashes; the
    # action checks each frame.
    kind = record.get("kind") or ContentKind.PHOTO
    frames = record.get("video_frames") or []
    if (
        kind not in ContentKind.values
        or not isinstance(frames, list)
        or (kind == ContentKind.PHOTO and frames)
    ):
        raise forms.ValidationError(
            _("Line %(line)s: a picture is a photo, or a video with its frame hashes."), params={"line": line}
        )
    return HashInput(
        label=label,
        pdq=pdq,
        quality=_quality(record.get("quality"), line),
        pdq_dihedral=tuple(_hex(h, _HEX64, _("PDQ hash"), line) for h in dihedral),
        md5=md5,
        sha256=sha256,
        kind=kind,
        video_frames=tuple(frames),
        extra=extra if extra is not None else (),
    )


class PasteHashesForm(StaffForm):
    """The JSON Lines that ``haven hash`` prints, one picture per line. File paths are ignored.

    Each bad line gets its own error on the field and the box keeps what was pasted.  With bad and
    good lines together, nothing is added until the officer confirms (``confirm``) that the good
    ones go in without the rest; ``bad_text`` then holds the bad lines, to fix and paste again.
    """

    lines = forms.CharField(
        label=_("Output of “haven hash”"),
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "mono"}),
        help_text=_(
            "Paste one line per picture. File names are not kept: "
            "pictures are labelled with the name below and a number."
        ),
    )
    label = forms.CharField(label=_("Label the pictures"), max_length=80, initial=_("picture"))
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, first_number: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_number = first_number
        self.good_lines: list[int] = []
        self.bad_lines: list[int] = []

    @staticmethod
    def _record(raw: str, n: int) -> dict[str, Any]:
        try:
            record = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(
                _("Line %(line)s is not valid JSON. Paste the lines exactly as “haven hash” printed them."),
                params={"line": n},
            ) from None
        if not isinstance(record, dict):
            raise forms.ValidationError(_("Line %(line)s is not a hash record."), params={"line": n})
        if "error" in record:
            raise forms.ValidationError(
                _("Line %(line)s is a picture that could not be hashed. Remove that line and paste again."),
                params={"line": n},
            )
        return record

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        text, label = cleaned.get("lines"), cleaned.get("label")
        if not text or not label:
            return cleaned
        good: list[tuple[int, dict[str, Any]]] = []
        bad: list[tuple[int, str, forms.ValidationError]] = []
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = self._record(raw, n)
                _item(record, "", n)  # checked here, labelled below once the good lines are known
            except forms.ValidationError as exc:
                bad.append((n, raw, exc))
                continue
            good.append((n, record))
        if not good and not bad:
            raise forms.ValidationError(_("Nothing to add: no lines were pasted."))
        if len(good) + len(bad) > MAX_PASTED_ITEMS:
            raise forms.ValidationError(
                ngettext(
                    "At most %(max)s picture can be added at once.",
                    "At most %(max)s pictures can be added at once.",
                    MAX_PASTED_ITEMS,
                ),
                params={"max": MAX_PASTED_ITEMS},
            )
        self.good_lines = [n for n, _record in good]
        self.bad_lines = [n for n, _raw, _exc in bad]
        if bad and not (good and cleaned.get("confirm")):
            self.add_error("lines", [exc for _n, _raw, exc in bad])
            return cleaned
        cleaned["bad_text"] = "\n".join(raw for _n, raw, _exc in bad)
        cleaned["items"] = [
            _item(record, f"{label} {self.first_number + i}", n) for i, (n, record) in enumerate(good)
        ]
        return cleaned


def _mono() -> forms.TextInput:
    return forms.TextInput(attrs={"class": "mono", "spellcheck": "false", "autocomplete": "off"})


class HashItemForm(StaffForm):
    label = forms.CharField(label=_("Label"), max_length=100, help_text=_("For example “photo 1”."))
    pdq = forms.CharField(label=_("PDQ hash"), required=False, max_length=200, widget=_mono())
    quality = forms.IntegerField(label=_("PDQ quality"), required=False, min_value=0, max_value=100)
    md5 = forms.CharField(label=_("MD5 digest"), required=False, max_length=200, widget=_mono())
    sha256 = forms.CharField(label=_("SHA-256 digest"), required=False, max_length=200, widget=_mono())

    def clean_pdq(self) -> str:
        return _hex(self.cleaned_data["pdq"], _HEX64, _("PDQ hash"), None)

    def clean_md5(self) -> str:
        return _hex(self.cleaned_data["md5"], _HEX32, _("MD5 digest"), None)

    def clean_sha256(self) -> str:
        return _hex(self.cleaned_data["sha256"], _HEX64, _("SHA-256 digest"), None)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            cleaned["items"] = [_item(cleaned, cleaned["label"], None)]
        return cleaned
