"""Every language Haven offers has a complete, compiled catalogue holding every message the code and
templates use, with the placeholders, markup and plural forms its language needs, and the words its
glossary fixes for the sensitive terms."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils.translation import to_locale

WEB = Path(__file__).resolve().parents[2] / "src" / "haven" / "web"
LOCALES = sorted(to_locale(code) for code, _name in settings.LANGUAGES if code != "en")
PLACEHOLDER = re.compile(r"%%|%\(\w+\)[sd]|%[sd]|<[^>]+>|\{[a-z_0-9]*\}")


def _placeholders(text: str) -> list[str]:
    """The placeholders and tags in a message, each once: a translation may name one twice or once."""
    return sorted({m.group(0) for m in PLACEHOLDER.finditer(text)})


def _po(locale: str) -> Path:
    return WEB / "locale" / locale / "LC_MESSAGES" / "django.po"


def _key(entry: polib.POEntry | polib.MOEntry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def _translation(entry: polib.POEntry | polib.MOEntry) -> tuple[str, ...]:
    if entry.msgid_plural:
        return tuple(entry.msgstr_plural[n] for n in sorted(entry.msgstr_plural))
    return (entry.msgstr,)


def test_every_offered_language_but_english_has_a_catalogue() -> None:
    assert len(settings.LANGUAGES) == 7  # the six UN languages and Korean
    on_disk = sorted(p.name for p in (WEB / "locale").iterdir() if _po(p.name).exists())
    assert on_disk == LOCALES


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    po = polib.pofile(str(_po(locale)))
    untranslated = [e.msgid for e in po if not e.obsolete and not all(_translation(e))]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
    assert not untranslated, f"untranslated in {locale}: {untranslated}"
    assert not fuzzy, f"fuzzy (to be checked) in {locale}: {fuzzy}"
    assert not po.metadata_is_fuzzy
    assert po.metadata["Language"] == locale


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_entries_have_every_form_the_language_needs(locale: str) -> None:
    po = polib.pofile(str(_po(locale)))
    found = re.search(r"nplurals\s*=\s*(\d+)", po.metadata["Plural-Forms"])
    assert found, po.metadata["Plural-Forms"]
    forms = int(found.group(1))
    expected = {"ar": 6, "ru": 3, "es": 2, "fr": 2, "ko": 1, "zh_Hans": 1}[locale]
    assert forms == expected
    for entry in po:
        if entry.msgid_plural and not entry.obsolete:
            assert sorted(entry.msgstr_plural) == list(range(forms)), entry.msgid


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalogue_keeps_placeholders_and_markup(locale: str) -> None:
    for entry in polib.pofile(str(_po(locale))):
        if entry.obsolete:
            continue
        allowed = [_placeholders(entry.msgid)]
        if entry.msgid_plural:
            allowed.append(_placeholders(entry.msgid_plural))
        for text in _translation(entry):
            assert _placeholders(text) in allowed, (locale, entry.msgid, text)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalogue_matches_the_po_file(locale: str) -> None:
    po = polib.pofile(str(_po(locale)))
    mo = polib.mofile(str(_po(locale).with_suffix(".mo")))
    compiled = {_key(e): _translation(e) for e in mo if e.msgid}
    source = {_key(e): _translation(e) for e in po if not e.obsolete and "fuzzy" not in e.flags}
    assert compiled == source, f"{locale}: the .mo is stale: run compilemessages in src/haven/web"


def test_the_catalogues_hold_every_message_in_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-extract messages into a copy of the web package and compare with the committed catalogues."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        message = "GNU gettext is not installed (apt-get install gettext)"
        if os.environ.get("HAVEN_TEST_REQUIRE_GETTEXT") == "1":
            pytest.fail(message)
        pytest.skip(message)
    copy = tmp_path / "web"
    shutil.copytree(WEB, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static"))
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command("makemessages", locale=LOCALES, verbosity=0)
    for locale in LOCALES:
        fresh = polib.pofile(str(copy / "locale" / locale / "LC_MESSAGES" / "django.po"))
        committed = {_key(e) for e in polib.pofile(str(_po(locale))) if not e.obsolete}
        current = {_key(e) for e in fresh if not e.obsolete}
        assert not current - committed, (
            f"{locale}: new messages to translate (run makemessages): {sorted(current - committed)}"
        )
        assert not committed - current, (
            f"{locale}: messages no longer used (run makemessages): {sorted(committed - current)}"
        )


# The English forms of each sensitive term a glossary fixes (case-insensitive, whole words).
SENSITIVE = {
    "survivor": r"\bsurvivors?\b|\bsurvivor['’]s\b",
    "consent": r"\bconsent(s|ed|ing)?\b",
    "withdraw": r"\bwithdr[ae]w(s|al|als|n|ing)?\b",
}
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")  # short vowels, shadda, sukun, tatweel


def _folded(text: str) -> str:
    return _ARABIC_MARKS.sub("", text).casefold()


def _strays(entries: list[polib.POEntry], glossary: dict[str, Any]) -> list[str]:
    """Translations of messages using a sensitive English term that lack the glossary's word."""
    wrong = []
    for term, english in SENSITIVE.items():
        stems = [_folded(s) for s in glossary["enforced"][term]["match"]]
        exceptions = glossary["exceptions"].get(term, [])
        for entry in entries:
            if entry.obsolete or entry.msgid in exceptions or not re.search(english, entry.msgid, re.I):
                continue
            for text in _translation(entry):
                if not any(stem in _folded(text) for stem in stems):
                    wrong.append(f"{term}: {entry.msgid!r} -> {text!r}")
    return wrong


def _glossary(locale: str) -> dict[str, Any]:
    return dict(json.loads((WEB / "locale" / locale / "glossary.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("locale", LOCALES)
def test_each_sensitive_term_is_translated_with_the_glossary_word(locale: str) -> None:
    """One word for survivor, consent and withdraw, everywhere: a translation of a message that uses
    the English term contains the glossary's word (any of its stems), unless the glossary lists the
    message as a deliberate exception."""
    glossary = _glossary(locale)
    assert glossary["language"] == locale
    assert set(glossary["enforced"]) == set(SENSITIVE)
    for term in ("survivor", "consent", "withdraw (consent)", "intimate image", "hash", "case"):
        assert glossary["terms"][term]["use"], (locale, term)
    po = polib.pofile(str(_po(locale)))
    messages = {e.msgid for e in po}
    for term, exceptions in glossary["exceptions"].items():
        assert set(exceptions) <= messages, f"{locale}: an exception for {term} names a message that is gone"
    wrong = _strays(list(po), glossary)
    assert not wrong, f"{locale} strays from its glossary:\n" + "\n".join(wrong)


def test_the_glossary_check_catches_a_stray_word() -> None:
    right = polib.POEntry(
        msgid="The survivor withdrew consent.", msgstr="La sobreviviente retiró su consentimiento."
    )
    stray = polib.POEntry(
        msgid="The survivor withdrew consent.", msgstr="La víctima retiró su consentimiento."
    )
    assert _strays([right], _glossary("es")) == []
    assert _strays([stray], _glossary("es")) == [f"survivor: {stray.msgid!r} -> {stray.msgstr!r}"]
    # Arabic is compared without its short vowels: سُحبت is a form of سحب.
    arabic = polib.POEntry(msgid="Consent withdrawn", msgstr="سُحبت الموافقة")
    assert _strays([arabic], _glossary("ar")) == []
