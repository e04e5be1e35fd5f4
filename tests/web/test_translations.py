"""Every language Haven offers has a complete, compiled catalogue holding every message the code and
templates use, with the placeholders, markup and plural forms its language needs, and the words its
glossary fixes for the sensitive terms."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

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
