"""How long does a centre's yearly report take on a large year, and what does its disclosure control cost?

A PostgreSQL database gets ``--cases`` synthetic cases in one year (``haven.web.reports.synthetic``:
consent records, referrals and about two sightings per case come with them).  Measured, in one run
on the same data, each as the median of ``--repeat`` runs after one warm-up:

1. ``acosav-yearly`` for the year, unfiltered: counting (the database's ``GROUP BY``s into cubes),
   suppression (``disclosure.protect`` of every cube), and the whole report as the page makes it;
2. the same for a quarter with a filter (sex=female): it reads the same cubes, so costs the same;
3. ``gbvims-monthly`` for a month; ``takedown-platforms``, ``dsa-trusted-flagger`` and
   ``monitoring`` for the year;
4. the baseline a report without disclosure control would be: the same report with suppression
   switched off (the ratio is what safety costs on top of counting);
5. how much is hidden: the share of the yearly tables' cells, and whether the year's total is shown.

No peer tool can run here on the same data: Primero's ``gbv_statistics`` is part of a Rails
application and has no suppression at all; τ-ARGUS (``pytauargus``) does not offer the hypercube
method (see docs/reports.md).  The baseline is therefore plain counting.

Prints tables (never asserts a time) and writes ``benchmarks/results/reports.json``.

    python benchmarks/bench_reports.py [--cases 100000 | --quick] [--pg postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_sharing as shared  # the database helpers and the table printer

RESULTS = shared.RESULTS
TARGET_S = 2.0  # the yearly report on 100,000 cases


def _median_s(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    value = fn()  # warm-up: connections, query plans, imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def _hidden_share(report: Any) -> tuple[int, int]:
    cells = hidden = 0
    for table in report.tables:
        for row in [*table.rows, *([table.total] if table.total else [])]:
            for count in row.counts:
                cells += 1
                hidden += count is None
    return hidden, cells


def run(args: argparse.Namespace) -> dict[str, Any]:
    from haven.web.core.commands import migrate, setup

    setup()
    migrate(open("/dev/null", "w"))  # noqa: SIM115 - the process's lifetime
    from django.db import connection

    from haven.web.accounts.actions import create_organisation
    from haven.web.cases.models import Case
    from haven.web.reports import disclosure, standard
    from haven.web.reports.actions import rules
    from haven.web.reports.periods import Period
    from haven.web.reports.synthetic import make_history

    org = create_organisation(
        actor="cli", name="Benchmark Centre", slug="bench", country="KR", time_zone="Asia/Seoul"
    )
    start = time.perf_counter()
    history = make_history(org, year=2025, cases=args.cases, seed=11)
    seeded_s = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    year, quarter = Period(2025), Period(2025, quarter=2)

    protect_times: list[float] = []
    original = disclosure.protect

    def timed_protect(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        out = original(*a, **k)
        protect_times.append(time.perf_counter() - t)
        return out

    def yearly() -> Any:
        return standard.make_report(org, "acosav-yearly", year, {}, rules())

    def filtered() -> Any:
        return standard.make_report(org, "acosav-yearly", quarter, {"sex": "female"}, rules())

    def gbvims() -> Any:
        return standard.make_report(org, "gbvims-monthly", Period(2025, month=3), {}, rules())

    def takedown() -> Any:
        return standard.make_report(org, "takedown-platforms", year, {}, rules())

    def dsa() -> Any:
        return standard.make_report(org, "dsa-trusted-flagger", year, {}, rules())

    def monitoring() -> Any:
        return standard.make_report(org, "monitoring", year, {}, rules())

    def counting_only() -> Any:
        """The same queries and counting as the report, with suppression switched off."""
        import numpy as np

        import haven.web.reports.cubes as cubes

        def nothing_hidden(inner: Any, rules: Any = None, **_: Any) -> Any:
            values = disclosure.with_margins(inner)
            none = np.zeros(values.shape, dtype=bool)
            return disclosure.Protected(values, none, none, none, disclosure.Rules())

        saved = cubes.protect
        cubes.protect = nothing_hidden  # type: ignore[assignment]
        try:
            return standard.make_report(org, "acosav-yearly", year, {}, rules())
        finally:
            cubes.protect = saved

    out: dict[str, Any] = {"cases": Case.objects.count(), "seeded_s": round(seeded_s, 1), **history.__dict__}
    out["counting_s"], _ = _median_s(counting_only, args.repeat)
    import haven.web.reports.cubes as cubes  # where protect() is called from

    cubes.protect = timed_protect  # type: ignore[assignment]
    try:
        protect_times.clear()
        out["yearly_s"], report = _median_s(yearly, args.repeat)
        runs = args.repeat + 1
        out["yearly_protect_s"] = sum(protect_times) / runs
        out["filtered_quarter_s"], _ = _median_s(filtered, args.repeat)
        out["gbvims_month_s"], _ = _median_s(gbvims, args.repeat)
        out["takedown_year_s"], _ = _median_s(takedown, args.repeat)
        out["dsa_year_s"], _ = _median_s(dsa, args.repeat)
        out["monitoring_year_s"], _ = _median_s(monitoring, args.repeat)
    finally:
        cubes.protect = original
    hidden, cells = _hidden_share(report)
    survivors = next(t for t in report.tables if t.key == "survivors")
    out["hidden_cells"], out["cells"] = hidden, cells
    out["year_total_shown"] = survivors.total.counts[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10,000 cases, 3 repeats")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--db", default="haven_bench_reports")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.repeat = 10_000, 3
    shared.create_database(args.pg, args.db)
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            shared._setup_env(args, data_dir)
            m = run(args)
    finally:
        shared.drop_database(args.pg, args.db)
    print(
        f"\nReports on {m['cases']:,} synthetic cases in one year (PostgreSQL; {m['sightings']:,} sightings, "
        f"{m['notices']:,} notices, {m['candidates']:,} candidates, {m['referrals']:,} referrals; "
        f"seeded in {m['seeded_s']} s)\n"
    )
    ms = lambda s: f"{1000 * s:,.0f} ms"  # noqa: E731
    shared._table(
        ["what", "median", "vs plain counting"],
        [
            [
                "acosav-yearly, 2025 (the page's report)",
                ms(m["yearly_s"]),
                f"{m['yearly_s'] / m['counting_s']:.1f}×",
            ],
            ["  of which suppression (protect, every cube)", ms(m["yearly_protect_s"]), ""],
            [
                "acosav-yearly, 2025-Q2, sex=female",
                ms(m["filtered_quarter_s"]),
                f"{m['filtered_quarter_s'] / m['counting_s']:.1f}×",
            ],
            [
                "gbvims-monthly, 2025-03",
                ms(m["gbvims_month_s"]),
                f"{m['gbvims_month_s'] / m['counting_s']:.1f}×",
            ],
            ["takedown-platforms, 2025", ms(m["takedown_year_s"]), ""],
            ["dsa-trusted-flagger, 2025", ms(m["dsa_year_s"]), ""],
            ["monitoring, 2025", ms(m["monitoring_year_s"]), ""],
            ["the same report without suppression", ms(m["counting_s"]), "1.0×"],
        ],
    )
    ok = m["yearly_s"] < TARGET_S
    print(
        f"\nyearly report under {TARGET_S} s: {shared._verdict(ok)}; hidden: {m['hidden_cells']} of "
        f"{m['cells']} cells of the yearly report; the year's total shown: {m['year_total_shown']}"
    )
    result = {
        "benchmark": "reports",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "source": shared._source(),
        "args": vars(args),
        "measured": m,
        "targets": {"yearly_s": TARGET_S},
        "met": {"yearly_s": ok},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
