"""How long does one deletion officer take to get 100 URLs on 5 platforms removed?

On the demo organisation (``seed_demo``), the demo deletion officer works one case's list of
100 URLs, 20 on each of 5 platforms, through the staff pages, exactly as in the browser:

  paste the list -> open the queue -> tick all, capture evidence -> per platform: tick its
  sightings, draft a notice, send it by e-mail -> (the platforms take the content down) ->
  tick all, recheck -> every sighting is "removed".

The 5 platforms are real HTTP servers on 127.0.0.1 ... 127.0.0.5 (each answers after
``--latency-ms``, to stand in for sites abroad), and their abuse mailbox is a real SMTP
server (aiosmtpd) that takes a notice's URLs down when it arrives.  Each step is timed
in-process through Django's full middleware stack; what is reported is the time the
officer waits for Haven and the number of pages and clicks, not reading or thinking time.

    python benchmarks/bench_takedown.py [--latency-ms 0 300] [--json benchmarks/results/takedown.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = 5
PER_PLATFORM = 20


class Platforms:
    """Five small sites on 127.0.0.1-5 serving pages; a URL listed in a notice turns to 410."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.removed: set[str] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = _free_port()
        self.runners: list[Any] = []

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            await asyncio.sleep(self.latency_s)
            url = f"http://{request.host}{request.path}"
            if url in self.removed:
                return web.Response(status=410, text="removed")
            return web.Response(
                text=f"<html><body><p>{request.path}</p></body></html>", content_type="text/html"
            )

        for n in range(1, PLATFORMS + 1):
            app = web.Application()
            app.router.add_get("/{tail:.*}", handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, f"127.0.0.{n}", self.port).start()
            self.runners.append(runner)

    def stop(self) -> None:
        async def stop() -> None:
            for runner in self.runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    def __init__(self, platforms: Platforms) -> None:
        self.platforms = platforms
        self.count = 0

    # aiosmtpd calls the hook by this name.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        text = envelope.content.decode("utf-8", "replace")
        self.platforms.removed.update(re.findall(r"http://127\.0\.0\.\d:\d+/\S+", text))
        return "250 OK"


def run(latency_ms: int) -> dict[str, Any]:
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.test import Client, override_settings
    from django_otp import DEVICE_ID_SESSION_KEY

    from haven.web.accounts.models import User
    from haven.web.cases.models import Case, CaseStatus
    from haven.web.takedown import actions
    from haven.web.takedown.models import Notice, Sighting

    platforms = Platforms(latency_ms / 1000)
    platforms.start()
    mailbox = Mailbox(platforms)
    smtp_port = _free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    steps: dict[str, float] = {}
    requests = 0
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=smtp_port,
            HAVEN_FETCH_ALLOW_LOOPBACK=True,
        ):
            admin = User.objects.get(username="demo")
            officer = User.objects.get(username="officer")
            officer.first_name, officer.last_name = "Demo", "Officer"
            officer.save()
            device = admin.staticdevice_set.first()  # type: ignore[attr-defined]
            device.user = officer
            device.save()
            for n in range(1, PLATFORMS + 1):
                actions.save_platform(
                    actor=admin,
                    data=actions.PlatformInput(
                        name=f"Local platform {n}",
                        domains=[f"127.0.0.{n}"],
                        abuse_email=f"abuse@platform{n}.test",
                        regimes=["dsa", "policy"],
                    ),
                )
            case = (
                Case.objects.filter(status__in=[CaseStatus.ACTIVE, CaseStatus.MONITORING])
                .exclude(consents__scope="takedown", consents__granted=False)
                .order_by("created_at")
                .first()
            )
            assert case is not None
            from haven.web.cases.actions import current_consent, record_consent

            if not current_consent(case)["takedown"]:
                record_consent(actor=admin, case=case, scope="takedown", granted=True, method="in_person")
            web = Client()
            web.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
            session = web.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

            web.get("/")  # warm-up, not timed: the first request loads URLs, the API schema and templates
            web.get(f"/cases/{case.number}/")

            def timed(name: str, fn: Any) -> Any:
                nonlocal requests
                start = time.perf_counter()
                result = fn()
                steps[name] = steps.get(name, 0.0) + time.perf_counter() - start
                requests += 1
                return result

            urls = [
                f"http://127.0.0.{p}:{platforms.port}/post/{p}-{i}"
                for p in range(1, PLATFORMS + 1)
                for i in range(PER_PLATFORM)
            ]
            r = timed(
                "paste 100 URLs",
                lambda: web.post(
                    f"/cases/{case.number}/sightings/", {"urls": "\n".join(urls), "source": "survivor"}
                ),
            )
            assert r.status_code == 302
            ids = list(
                Sighting.objects.filter(case=case, host__startswith="127.0.0.").values_list("pk", flat=True)
            )
            assert len(ids) == len(urls), len(ids)
            timed("open the queue", lambda: web.get("/takedown/?case=" + case.number))
            r = timed(
                "capture evidence (bulk)",
                lambda: web.post("/takedown/bulk/", {"action": "capture", "sighting": ids}),
            )
            assert set(Sighting.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"evidence"}
            for p in range(1, PLATFORMS + 1):
                mine = list(
                    Sighting.objects.filter(pk__in=ids, host=f"127.0.0.{p}").values_list("pk", flat=True)
                )
                r = timed(
                    "draft notices",
                    lambda mine=mine: web.post("/takedown/bulk/", {"action": "notice", "sighting": mine}),
                )
                timed("draft notices", lambda r=r: web.get(r["Location"]))
                r = timed(
                    "draft notices",
                    lambda mine=mine: web.post(
                        "/takedown/notices/new/",
                        {
                            "s": mine,
                            "regime": "dsa",
                            "language": "en",
                            "signer": "Demo Officer",
                            "notifier_email": settings.DEFAULT_FROM_EMAIL,
                            "explanation": "Intimate images published without consent.",
                            "good_faith": "on",
                        },
                    ),
                )
                assert r.status_code == 302, r.content[:500]
                timed("send notices", lambda r=r: web.get(r["Location"]))
                notice = Notice.objects.order_by("-pk").first()
                assert notice is not None
                timed(
                    "send notices",
                    lambda notice=notice: web.post(f"/takedown/notices/{notice.pk}/act/", {"action": "send"}),
                )
            assert mailbox.count == PLATFORMS, mailbox.count
            timed(
                "recheck (bulk)", lambda: web.post("/takedown/bulk/", {"action": "recheck", "sighting": ids})
            )
            states = set(Sighting.objects.filter(pk__in=ids).values_list("state", flat=True))
            assert states == {"removed"}, states
    finally:
        smtp.stop()
        platforms.stop()
    return {
        "latency_ms": latency_ms,
        "urls": PLATFORMS * PER_PLATFORM,
        "platforms": PLATFORMS,
        "requests": requests,
        "steps_s": {k: round(v, 3) for k, v in steps.items()},
        "total_s": round(sum(steps.values()), 2),
    }


def _one(latency: int) -> dict[str, Any]:
    """One run in a fresh data dir (each latency runs in its own process: Django sets up once)."""
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as data_dir:
        os.environ["HAVEN_DATA_DIR"] = data_dir
        os.environ["HAVEN_SECURE_COOKIES"] = "false"
        os.environ["HAVEN_ALLOWED_HOSTS"] = "testserver"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.web.config.settings")
        import django
        from django.core.management import call_command
        from django.db import connection

        django.setup()
        call_command("migrate", verbosity=0)
        from haven.web.core.demo import seed_demo

        seed_demo()
        result = run(latency)
        connection.close()
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 300])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "takedown.json")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.one)))
        return 0
    results = []
    for latency in args.latency_ms:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(latency)], check=True, capture_output=True, text=True
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'latency':>8} {'URLs':>5} {'requests':>9} {'total s':>8}   steps (s)")
    for r in results:
        steps = ", ".join(f"{k} {v}" for k, v in r["steps_s"].items())
        print(f"{r['latency_ms']:>6}ms {r['urls']:>5} {r['requests']:>9} {r['total_s']:>8}   {steps}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
