"""The built-in text of each awareness page, in every UI language (the catalogues translate it).

Each page is a few blocks, assembled into Markdown in the active language: a centre that edits a
page starts from this text, and a page it never edited shows it.  Paragraphs are separate messages
so that a translator sees one thought at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from haven.web.accounts.models import Organisation
from haven.web.takedown import regimes

from .markup import escape
from .models import Topic

# The European Union's member states: the EU's own laws (the DSA, the GDPR) apply there too.
EU = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})  # fmt: skip


@dataclass(frozen=True)
class Page:
    title: str
    body: str  # Markdown
    built_in: bool


def _ul(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _abuse(_org: Organisation) -> list[str]:
    return [
        _(
            "Image-based abuse is when someone makes, shares or threatens to share intimate pictures or "
            "videos of a person without that person's consent."
        ),
        _("It includes:"),
        _ul(
            [
                _("sharing intimate pictures that were sent in private or taken during a relationship;"),
                _("filming or photographing someone in secret: in a toilet, a changing room, a bedroom;"),
                _(
                    "threatening to share pictures unless the person sends more, pays or stays in a "
                    "relationship (sextortion);"
                ),
                _(
                    "fake sexual pictures or videos of a real person, made with editing tools or "
                    "artificial intelligence (deepfakes)."
                ),
            ]
        ),
        _(
            "It is abuse, and in many countries a crime. The person in the pictures is never to blame, "
            "whatever happened before they were shared."
        ),
    ]


def _options(_org: Organisation) -> list[str]:
    return [
        _("If pictures of you have been shared, or someone threatens to share them, you can act now:"),
        _ul(
            [
                _("Do not pay and do not send more pictures. Paying rarely stops the threats."),
                _(
                    "If it is safe, keep the addresses (links) where the pictures are, the messages and "
                    "the user names. You do not have to look at the pictures again: the centre can help."
                ),
                _(
                    "Hash your pictures on this site, so that copies can be found and blocked without "
                    "anyone seeing them."
                ),
                _("Ask the centre for help. You decide what happens next."),
                _(
                    "Report to the police if and when you want to. The centre can explain how, or go "
                    "with you."
                ),
            ]
        ),
        _("If you are in danger now, call the police emergency number of your country."),
        f"[{_('Start here')}]({_portal()})",
    ]


def _help(org: Organisation) -> list[str]:
    return [
        _(
            "%(centre)s helps people whose intimate pictures are shared without their consent. Its staff "
            "are trained for this work and keep what you tell them confidential."
        )
        % {"centre": escape(org.name)},
        _("The centre can:"),
        _ul(
            [
                _("find where your pictures are online, using only their fingerprints;"),
                _(
                    "ask websites, platforms and search engines to remove them, with the notice that the "
                    "law of each place requires, and check that they stay down;"
                ),
                _(
                    "share the fingerprints with partner platforms, so that new uploads are blocked, only "
                    "if you agree;"
                ),
                _("put you in touch with the police, lawyers, doctors and counsellors, if you wish."),
            ]
        ),
        _("You can withdraw your consent or delete your data at any time."),
        f"[{_('Start here')}]({_portal()})",
    ]


def _hashing(_org: Organisation) -> list[str]:
    return [
        _(
            "A hash is a fingerprint of a picture: a short code computed from it. Copies of the picture "
            "give the same or a very similar code, so a copy can be recognised without anyone seeing it."
        ),
        _(
            "On this site your own phone or computer computes the hashes. Your pictures are never "
            "uploaded: only the hashes and your choices reach the centre."
        ),
        _("The picture cannot be rebuilt from its hash."),
        _(
            "With your consent the centre looks for the hashes among pictures found online, and shares "
            "them with platforms that block matching uploads. If you withdraw your consent, the hashes "
            "leave the centre's lists at once and its partners are told to delete them."
        ),
    ]


def _law(org: Organisation) -> list[str]:
    blocks = [
        _(
            "Sharing intimate pictures without consent breaks the rules of every large platform, and the "
            "law of many countries."
        )
    ]
    here = {org.country.upper()} | ({"EU"} if org.country.upper() in EU else set())
    laws = [r for r in regimes.REGIMES.values() if r.country and r.country in here]
    if laws:
        blocks.append(_("Where this centre works, these laws let it ask for pictures to be removed:"))
        items = []
        for r in laws:
            item = str(r.name)
            if r.deadline_hours:
                item += " — " + ngettext(
                    "the platform must act within %(hours)s hour",
                    "the platform must act within %(hours)s hours",
                    r.deadline_hours,
                ) % {"hours": r.deadline_hours}
            items.append(item)
        blocks.append(_ul(items))
    blocks += [
        _(
            "Platforms also remove such pictures under their own rules, and search engines take them "
            "out of their results."
        ),
        _(
            "The centre's staff can explain what the law allows in your case, and help you report to "
            "the police."
        ),
    ]
    return blocks


def _portal() -> str:
    return f"{reverse('portal:landing')}?lang={get_language()}"


BUILT_IN: dict[str, Callable[[Organisation], list[str]]] = {
    Topic.ABUSE: _abuse,
    Topic.OPTIONS: _options,
    Topic.HELP: _help,
    Topic.HASHING: _hashing,
    Topic.LAW: _law,
}

SUMMARIES: dict[str, Promise] = {
    Topic.ABUSE: gettext_lazy("Sharing, secret filming, threats and deepfakes."),
    Topic.OPTIONS: gettext_lazy("What to do first, and what not to do."),
    Topic.HELP: gettext_lazy("Finding the pictures, getting them removed, and support."),
    Topic.HASHING: gettext_lazy("Your pictures stay on your phone: only fingerprints are sent."),
    Topic.LAW: gettext_lazy("The laws and rules that make platforms remove pictures."),
}


def built_in(topic: str, org: Organisation) -> Page:
    """The built-in page in the active language."""
    return Page(title=str(Topic(topic).label), body="\n\n".join(BUILT_IN[topic](org)), built_in=True)
