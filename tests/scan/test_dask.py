"""The same scan on a Dask cluster (two local worker processes) gives the same report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from haven.scan import Crawl, FetchPolicy, ScanOptions, scan

from .site import TestSite
from .test_pipeline import Gallery, comparable
from .test_robust_scan import RobustGallery

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def gallery(site: TestSite) -> Gallery:
    return Gallery(site, "/dask-gallery")


def test_a_dask_scan_equals_the_local_scan(gallery: Gallery, policy: FetchPolicy, client: object) -> None:
    options = ScanOptions(policy=policy)
    local = scan([Crawl(gallery.index, depth=1)], gallery.bank, options=options)
    on_cluster = scan(
        [Crawl(gallery.index, depth=1)],
        gallery.bank,
        options=replace(options, dask_batch_size=2),
        scheduler=client,  # type: ignore[arg-type]
    )
    assert len(local.candidates) == 2
    assert comparable(on_cluster) == comparable(local)


def test_a_scheduler_address_works_too(gallery: Gallery, policy: FetchPolicy, client: object) -> None:
    address = client.scheduler.address  # type: ignore[attr-defined]
    assert address.startswith("tcp://127.0.0.1:")
    report = scan(
        [Crawl(gallery.page2, depth=0)], gallery.bank, options=ScanOptions(policy=policy), scheduler=address
    )
    assert {c.content_id for c in report.candidates} == {"content-0", "content-1"}


def test_robust_matching_on_dask_finds_the_same_crops_and_frames(
    site: TestSite, policy: FetchPolicy, client: object
) -> None:
    gallery = RobustGallery(site, "/dask-robust-gallery")
    for robust in (True, False):
        options = ScanOptions(policy=policy, robust=robust)
        local = scan([Crawl(gallery.index, depth=0)], gallery.bank, options=options)
        on_cluster = scan(
            [Crawl(gallery.index, depth=0)],
            gallery.bank,
            options=replace(options, dask_batch_size=1),
            scheduler=client,  # type: ignore[arg-type]
        )
        assert len(local.candidates) == (2 if robust else 0)
        assert comparable(on_cluster) == comparable(local)


def test_page_text_is_matched_on_the_workers_with_the_same_result(
    site: TestSite, policy: FetchPolicy, client: object
) -> None:
    from haven.scan import PersonalIdentifier, TextBank, UrlList

    bank = TextBank.build(
        [
            PersonalIdentifier("1", "c1", "name", "김지은"),
            PersonalIdentifier("2", "c1", "place", "한빛고등학교"),
            PersonalIdentifier("3", "c2", "phone", "010-2222-3333"),
        ]
    )
    pages = [
        site.put("/dask-text/1", "<p>김 지은 한빛고등학교</p>"),
        site.put("/dask-text/2", "<p>call 010 2222 3333</p>"),
        site.put("/dask-text/3", "<p>김지은 only</p>"),
    ]
    local = scan([UrlList(pages)], None, options=ScanOptions(policy=policy), text_bank=bank)
    on_cluster = scan(
        [UrlList(pages)],
        None,
        options=ScanOptions(policy=policy),
        scheduler=client,  # type: ignore[arg-type]
        text_bank=bank,
    )
    found = [(c.page_url, c.case_id, c.kinds, c.spans) for c in local.text_candidates]
    assert found == [(c.page_url, c.case_id, c.kinds, c.spans) for c in on_cluster.text_candidates]
    assert [(p, c) for p, c, _k, _s in found] == [(pages[0], "c1"), (pages[1], "c2")]
