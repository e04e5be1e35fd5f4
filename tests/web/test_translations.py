"""The Korean catalogue is complete, compiled, and holds every message the code and templates use."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from django.test import override_settings

WEB = Path(__file__).resolve().parents[2] / "src" / "haven" / "web"
PO = WEB / "locale" / "ko" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _key(entry: polib.POEntry | polib.MOEntry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def _translation(entry: polib.POEntry | polib.MOEntry) -> tuple[str, ...]:
    if entry.msgid_plural:
        return tuple(entry.msgstr_plural[n] for n in sorted(entry.msgstr_plural))
    return (entry.msgstr,)


def test_every_message_has_a_korean_translation() -> None:
    po = polib.pofile(str(PO))
    untranslated = [e.msgid for e in po if not all(_translation(e))]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
    assert not untranslated, f"untranslated in {PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy (to be checked) in {PO.name}: {fuzzy}"
    assert not po.metadata_is_fuzzy
    assert po.metadata["Language"] == "ko"


def test_the_korean_catalogue_keeps_placeholders_and_markup() -> None:
    import re

    placeholder = re.compile(r"%\((\w+)\)s|<[^>]+>")
    for entry in polib.pofile(str(PO)):
        expected = sorted(placeholder.findall(entry.msgid))
        for text in _translation(entry):
            assert sorted(placeholder.findall(text)) == expected, entry.msgid


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    po = polib.pofile(str(PO))
    mo = polib.mofile(str(MO))
    compiled = {_key(e): _translation(e) for e in mo if e.msgid}
    source = {_key(e): _translation(e) for e in po if not e.obsolete and "fuzzy" not in e.flags}
    assert compiled == source, "the .mo is stale: run compilemessages in src/haven/web"


def test_the_catalogue_holds_every_message_in_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-extract messages into a copy of the web package and compare with the committed catalogue."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        message = "GNU gettext is not installed (apt-get install gettext)"
        if os.environ.get("HAVEN_TEST_REQUIRE_GETTEXT") == "1":
            pytest.fail(message)
        pytest.skip(message)
    copy = tmp_path / "web"
    shutil.copytree(WEB, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static"))
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command("makemessages", locale=["ko"], verbosity=0)
    fresh = polib.pofile(str(copy / "locale" / "ko" / "LC_MESSAGES" / "django.po"))
    committed = {_key(e) for e in polib.pofile(str(PO)) if not e.obsolete}
    current = {_key(e) for e in fresh if not e.obsolete}
    assert not current - committed, (
        f"new messages to translate (run makemessages): {sorted(current - committed)}"
    )
    assert not committed - current, (
        f"messages no longer used (run makemessages): {sorted(committed - current)}"
    )
