from __future__ import annotations

import os
import subprocess
import sys

import haven.scan


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(haven.scan) if not name.startswith("_")}
    assert set(haven.scan.__all__) == public
    assert len(haven.scan.__all__) == len(set(haven.scan.__all__))


def test_scan_imports_neither_django_nor_dask_until_asked() -> None:
    code = (
        "import sys, haven.scan; "
        "bad = [m for m in sys.modules if m.startswith(('django', 'dask', 'distributed', 'haven.web'))]; "
        "print(','.join(bad))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""
