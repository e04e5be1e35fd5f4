from __future__ import annotations

import haven.signals


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(haven.signals) if not name.startswith("_")}
    # Submodules are private (underscored) and not re-exported.
    assert set(haven.signals.__all__) == public
    assert len(haven.signals.__all__) == len(set(haven.signals.__all__))
    for name in haven.signals.__all__:
        assert getattr(haven.signals, name) is not None


def test_the_hasher_registry_names_are_unique_and_explicit() -> None:
    names = list(haven.signals.HASHERS)
    assert names == ["pdq", "md5", "sha256"]
    for name, hasher in haven.signals.HASHERS.items():
        assert type(hasher).name == name


def test_signals_does_not_import_django_or_other_haven_parts() -> None:
    import subprocess
    import sys

    code = (
        "import sys, haven.signals; "
        "bad = [m for m in sys.modules if m.startswith(('django', 'haven.scan', 'haven.web', 'haven.cli'))]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
