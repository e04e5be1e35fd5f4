"""How quickly do the staff pages and the API answer, on the embedded default (SQLite)?

Builds a throw-away data dir with the demo organisation plus ``--cases`` synthetic cases
(each with consent to monitoring and 1-4 content hashes), then times each page and API
call in-process through Django's full middleware stack (sessions, CSRF, two-factor, CSP,
templates, database) and prints p50/p95 in milliseconds.  The HTTP server itself is not
in the measurement.

    python benchmarks/bench_web.py [--cases 1000] [--repeat 30] [--json benchmarks/results/web.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup(data_dir: str) -> None:
    os.environ["HAVEN_DATA_DIR"] = data_dir
    os.environ["HAVEN_SECURE_COOKIES"] = "false"
    os.environ["HAVEN_ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.web.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _timed(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    fn()  # warm caches (templates, the matching index)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[min(len(samples) - 1, int(0.95 * len(samples)))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "web.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="haven-bench-") as data_dir:
        _setup(data_dir)
        from django.test import Client
        from django_otp import DEVICE_ID_SESSION_KEY

        from haven.signals import PdqHash
        from haven.web.accounts.actions import create_token
        from haven.web.accounts.models import User
        from haven.web.cases import actions
        from haven.web.cases.models import Case, ContentItem
        from haven.web.core.demo import seed_demo

        seed_demo()
        demo = User.objects.get(username="demo")
        rng = random.Random(7)
        start = time.perf_counter()
        bank: list[str] = []
        for _ in range(args.cases):
            case = actions.create_case(
                actor=demo, contact="(synthetic)", tfgbv_type="non_consensual_distribution"
            )
            actions.record_consent(actor=demo, case=case, scope="monitor", granted=True, method="phone")
            items = []
            for i in range(rng.randint(1, 4)):
                pdq = str(PdqHash(sum(1 << b for b in rng.sample(range(256), 128))))
                bank.append(pdq)
                items.append(actions.HashInput(label=f"photo {i + 1}", pdq=pdq))
            actions.add_content(actor=demo, case=case, items=items)
        setup_s = time.perf_counter() - start
        n_cases = Case.objects.count()
        n_items = ContentItem.objects.count()
        print(f"{n_cases} cases, {n_items} content hashes (created in {setup_s:.1f} s)")

        page = Client()
        page.force_login(demo, backend="django.contrib.auth.backends.ModelBackend")
        session = page.session
        session[DEVICE_ID_SESSION_KEY] = demo.staticdevice_set.first().persistent_id  # type: ignore[attr-defined]
        session.save()
        api = Client(headers={"Authorization": f"Bearer {create_token(actor=demo, user=demo)}"})
        number = Case.objects.order_by("-pk").values_list("number", flat=True).first()
        queries = {"pdq": rng.sample(bank, 10)}

        def get(client: Client, url: str) -> Callable[[], object]:
            def call() -> object:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                return response

            return call

        def lookup() -> object:
            response = api.post("/api/v1/lookup", data=json.dumps(queries), content_type="application/json")
            assert response.status_code == 200
            assert len(response.json()) >= 10
            return response

        checks = {
            "page: dashboard": get(page, "/"),
            "page: case list": get(page, "/cases/"),
            "page: case list, search": get(page, f"/cases/?q={str(number)[3:7]}"),
            "page: case page": get(page, f"/cases/{number}/"),
            "api: GET /cases (100)": get(api, "/api/v1/cases"),
            "api: GET /cases/{number}": get(api, f"/api/v1/cases/{number}"),
            f"api: POST /lookup (10 PDQ vs {n_items})": lookup,
        }
        results = {name: _timed(fn, args.repeat) for name, fn in checks.items()}

    print(f"{'':<44}{'p50 ms':>8}{'p95 ms':>8}")
    for name, r in results.items():
        print(f"{name:<44}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"cases": n_cases, "content_items": n_items, "results": results}, indent=2)
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
