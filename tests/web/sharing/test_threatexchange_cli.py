"""The real ``threatexchange`` CLI against a live Haven: StopNCII's shape and the native feed.

A platform fetches a survivor's hashes with pytx's built-in ``stop_ncii`` exchange and with the
``haven_threatexchange`` extension, matches her picture, and fetches again after she withdraws
her share consent. The native feed's tombstones delete her hashes. pytx 1.2.17's StopNCII
exchange keeps them: its ``_get_delta_mapping`` compares ``hashValue`` (the hash) instead of
``hashStatus`` with Withdrawn/Deleted (threatexchange/exchanges/impl/stop_ncii_api.py), so no
record ever becomes a tombstone. The last assertion pins that known bug; the extension's README
steers platforms to the native feed for it.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image
from pytest_django.live_server_helper import LiveServer
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file
from threatexchange.signal_type.pdq.pdq_utils import simple_distance

from haven.signals import hash_file
from haven.web.cases import actions as cases
from haven.web.cases.models import Case
from haven.web.sharing.actions import approve_case, create_partner
from tests.signals.photolike import photo_like
from tests.web.conftest import Persona

TX = pathlib.Path(sys.executable).with_name("threatexchange")
STOPNCII = "Haven via StopNCII"
NATIVE = "Haven native"


def pictures(folder: pathlib.Path, n: int) -> list[pathlib.Path]:
    """n photo-like PNGs whose PDQ is strong enough to share (for Haven and for pytx), far apart."""
    found: list[tuple[pathlib.Path, str]] = []
    for seed in range(100):
        path = folder / f"picture-{seed}.png"
        Image.fromarray(photo_like(np.random.default_rng(seed), min_side=320)).save(path)
        tx_hash, tx_quality = pdq_from_file(path)
        if hash_file(path).pdq.quality < 80 or tx_quality < 80:
            continue
        if any(simple_distance(tx_hash, other) <= 64 for _, other in found):
            continue
        found.append((path, tx_hash))
        if len(found) == n:
            return [path for path, _ in found]
    raise AssertionError("not enough photo-like pictures with a strong PDQ")


def add_pictures(counsellor: Persona, case: Case, paths: list[pathlib.Path]) -> None:
    items = []
    for i, path in enumerate(paths, start=1):
        hashed = hash_file(path, robust=True)
        items.append(
            cases.HashInput(
                label=f"picture {i}",
                pdq=str(hashed.pdq.hash),
                quality=hashed.pdq.quality,
                md5=str(hashed.md5),
                sha256=str(hashed.sha256),
                extra=[{"kind": s.kind, "pdq": str(s.hash), "quality": s.quality} for s in hashed.extra],
            )
        )
    cases.add_content(actor=counsellor.user, case=case, items=items)


@dataclass
class Platform:
    """One platform's pytx CLI: its state lives under its own HOME."""

    home: pathlib.Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(TX), *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, f"threatexchange {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def matches(self, picture: pathlib.Path) -> dict[str, str]:
        """Collaboration name -> the opinion printed, for each collaboration whose hashes match.

        ``match`` prints one line per collaboration: ``pdq DISTANCE (COLLAB) OPINION``.
        """
        out = self.run("match", "photo", str(picture)).stdout
        found = {}
        for line in out.splitlines():
            _, _, rest = line.partition("(")
            collab, _, opinion = rest.partition(") ")
            found[collab] = opinion.strip()
        return found


@pytest.mark.usefixtures("transactional_db")
def test_a_platform_fetches_and_matches_with_pytx_and_withdrawal_reaches_only_the_native_feed(
    live_server: LiveServer, admin: Persona, counsellor: Persona, case: Case, tmp_path: pathlib.Path
) -> None:
    _, keys = create_partner(
        actor=admin.user, organisation=admin.user.organisation, name="Example Platform", kind="platform"
    )
    base = live_server.url
    platform = Platform(
        tmp_path / "home",
        {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path / "home"),
            "TX_STOPNCII_KEYS": f"{keys.fetch_key},{keys.subscription_key},{base}/api/stopncii/v1",
            "TX_HAVEN_KEYS": (
                f"{keys.fetch_key},{keys.subscription_key},{base}/api/sharing/v1,{keys.feedback_key}"
            ),
        },
    )
    platform.home.mkdir()
    # Three pictures, not one: pytx's PDQ index (faiss IndexBinaryMultiHash) loses a lone hash
    # when the CLI writes and reloads it (faiss-cpu 1.15), which would hide every match here.
    survivor_picture, *others = pictures(tmp_path, 3)
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="in_person")
    add_pictures(counsellor, case, [survivor_picture, *others])
    assert approve_case(actor=counsellor.user, case=case) == 3

    # 1. pytx's built-in StopNCII exchange, pointed at Haven's StopNCII-compatible API.
    platform.run("config", "collab", "edit", "stop_ncii", STOPNCII, "--create")
    platform.run("fetch")
    assert set(platform.matches(survivor_picture)) == {STOPNCII}

    # 2. The native feed through the extension.
    platform.run("config", "extensions", "add", "haven_threatexchange")
    platform.run("config", "collab", "edit", "haven", NATIVE, "--create")
    platform.run("fetch")
    assert platform.matches(survivor_picture) == {
        STOPNCII: "INVESTIGATION_SEED 0",
        NATIVE: "INVESTIGATION_SEED",
    }

    # The platform blocked an upload: its opinion goes back through the extension, and a fresh
    # fetch of the native feed carries it as that partner's feedback.
    shared_hash = tmp_path / "hash.txt"
    shared_hash.write_text(str(hash_file(survivor_picture).pdq.hash))
    platform.run("label", "--as-hash", "pdq", "-l", "upload-blocked", NATIVE, "photo", str(shared_hash))
    platform.run("fetch", "--clear", "--only-collab", NATIVE)
    platform.run("fetch")
    assert platform.matches(survivor_picture)[NATIVE] == "POSITIVE_CLASS +Example Platform"

    # 3. The survivor withdraws her share consent; the platform fetches again.
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=False, method="in_person")
    platform.run("fetch")

    matched = platform.matches(survivor_picture)
    assert NATIVE not in matched, "the native feed's tombstones delete the withdrawn hashes"
    # The known pytx 1.2.17 bug (see the module docstring): StopNCII's Withdrawn records are kept.
    assert STOPNCII in matched
