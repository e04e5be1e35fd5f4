"""Example platform directory entries and sightings for the demo organisation.

Every platform here is an invented example on a reserved ``.example`` domain and is marked
``example``: a centre fills in the real platforms it deals with, with addresses it has checked.
"""

from __future__ import annotations

import random
from typing import Any

from .actions import PlatformInput, add_sightings, save_platform
from .models import PlatformKind

EXAMPLES = (
    PlatformInput(
        name="Example adult video site",
        kind=PlatformKind.ADULT,
        domains=("adult-videos.example", "cdn.adult-videos.example"),
        abuse_email="abuse@adult-videos.example",
        country="US",
        regimes=("take_it_down", "dmca"),
        response_hours=48,
        example=True,
    ),
    PlatformInput(
        name="Example search engine",
        kind=PlatformKind.SEARCH,
        domains=("search.example",),
        web_form_url="https://search.example/legal/remove-intimate-images",
        country="US",
        regimes=("policy", "dsa"),
        response_hours=72,
        example=True,
    ),
    PlatformInput(
        name="Example social network",
        kind=PlatformKind.SOCIAL,
        domains=("social.example", "img.social.example"),
        abuse_email="ncii@social.example",
        country="IE",
        regimes=("dsa", "policy"),
        response_hours=24,
        example=True,
    ),
    PlatformInput(
        name="Example file locker",
        kind=PlatformKind.FILE_SHARING,
        domains=("files.example",),
        abuse_email="abuse@files.example",
        country="NL",
        regimes=("dsa",),
        response_hours=72,
        example=True,
    ),
    PlatformInput(
        name="예시 커뮤니티 (Example Korean forum)",
        kind=PlatformKind.FORUM,
        domains=("community.example",),
        abuse_email="report@community.example",
        country="KR",
        regimes=("kr_deletion",),
        response_hours=24,
        language="ko",
        example=True,
    ),
)


def seed_takedown(*, actor: Any, cases: list[Any], rng: random.Random) -> None:
    """The example platforms, and a few sightings on them for the demo cases (not yet captured)."""
    for data in EXAMPLES:
        save_platform(actor=actor, data=data)
    hosts = [d for p in EXAMPLES for d in p.domains[:1]] + ["unknown-host.example"]
    for case in cases[:6]:
        urls = [
            f"https://{rng.choice(hosts)}/post/{rng.randint(1000, 99999)}" for _ in range(rng.randint(1, 4))
        ]
        add_sightings(actor=actor, case=case, urls=urls, source=rng.choice(["survivor", "counsellor"]))
