"""Bad input gets a clear error and changes nothing: hostile URLs, hostile sites, bad notices."""

from __future__ import annotations

import pytest
from django.test import override_settings

from haven.web.audit.models import AuditEvent
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.takedown import actions, addresses
from haven.web.takedown.models import Evidence, Sighting, SightingEvent
from tests.scan.site import TestSite
from tests.web.conftest import Persona


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "Only http and https"),
        ("javascript:alert(1)", "Only http and https"),
        ("ftp://example.com/x.jpg", "Only http and https"),
        ("data:image/png;base64,AAAA", "Only http and https"),
        ("http://10.0.0.1/admin", "private or reserved"),
        ("http://169.254.169.254/latest/meta-data/", "private or reserved"),
        ("http://[::1]/", "private or reserved"),
        ("http://[fe80::1]/", "private or reserved"),
        ("http://127.0.0.1/", "private or reserved"),
        ("http://user:secret@example.com/", "user name or password"),
        ("http://exa mple.com/", "spaces or control characters"),
        ("http://example.com:99999/", "not a valid address"),
        ("http:///nohost", "no host name"),
        ("https://example.com/" + "a" * 2000, "longer than"),
        ("", "empty"),
        # Hosts no DNS server holds, and addresses spelt so that a dotted-quad filter misses them.
        ("http://999.999.999.999/", "not a valid IP address"),
        ("http://1.2.3.256/", "not a valid IP address"),
        ("https://xn--/", "host name xn-- is not valid"),
        ("https://xn--abc.example/", "is not valid"),
        ("http://a..b.example/", "is not valid"),
        ("http://exa$mple.com/", "is not valid"),
        ("http://0x7f000001/", "unusual spelling of the address 127.0.0.1"),
        ("http://2130706433/", "unusual spelling of the address 127.0.0.1"),
        ("http://0177.0.0.1/", "unusual spelling of the address 127.0.0.1"),
        ("http://127.1/", "unusual spelling of the address 127.0.0.1"),
        ("http://134744072/", "unusual spelling of the address 8.8.8.8"),
        ("http://0x08.0x08.0x08.0x08/", "unusual spelling of the address 8.8.8.8"),
        ("http://[1.2.3.4]/", "not a valid address"),
        # IDNA maps these to ASCII digits and dots: checked after the mapping, not before.
        ("http://１２７.０.０.１/", "private or reserved"),
        ("http://１６９.２５４.１６９.２５４/", "private or reserved"),
        ("http://127。0。0。1/", "private or reserved"),
        # IPv6 spellings of private IPv4 addresses, and names that are the machine or the cloud.
        ("http://[::ffff:127.0.0.1]/", "private or reserved"),
        ("http://[64:ff9b::7f00:1]/", "private or reserved"),
        ("http://[2002:7f00:1::]/", "private or reserved"),
        ("http://localhost./", "private or reserved"),
        ("http://metadata.google.internal/", "private or reserved"),
        ("http://printer.local/", "private or reserved"),
    ],
)
def test_hostile_urls_are_refused_with_a_clear_reason(url: str, why: str) -> None:
    with pytest.raises(ActionError, match=why):
        addresses.normalise(url)


def test_normalising_keeps_one_page_one_sighting() -> None:
    assert (
        addresses.normalise("HTTPS://Example.COM:443/a?utm_source=x&id=3#top") == "https://example.com/a?id=3"
    )
    assert addresses.normalise("http://例え.jp/") == "http://xn--r8jz45g.jp/"
    assert addresses.normalise("http://example.com") == "http://example.com/"
    assert addresses.normalise("http://xn--r8jz45g.jp/") == "http://xn--r8jz45g.jp/"
    assert addresses.normalise("http://8.8.8.8/") == "http://8.8.8.8/"
    assert addresses.normalise("http://[2001:4860:4860::8888]/") == "http://[2001:4860:4860::8888]/"
    assert addresses.normalise("https://my_site.example.com/") == "https://my_site.example.com/"
    assert addresses.normalise("https://cdn1.example.co.kr./x") == "https://cdn1.example.co.kr/x"


def test_one_bad_line_refuses_the_whole_batch(consenting_case: Case, officer: Persona) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ActionError, match="Line 2") as exc:
        actions.add_sightings(
            actor=officer.user,
            case=consenting_case,
            urls=["https://example.com/a", "file:///etc/shadow", "https://example.com/b"],
            source="counsellor",
        )
    assert "file" in str(exc.value)
    assert Sighting.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_duplicates_are_skipped_and_reported(consenting_case: Case, officer: Persona) -> None:
    first = actions.add_sightings(
        actor=officer.user,
        case=consenting_case,
        urls=["https://example.com/a", "https://EXAMPLE.com/a#x", "https://example.com/b"],
        source="counsellor",
    )
    assert [s.url for s in first.created] == ["https://example.com/a", "https://example.com/b"]
    assert first.duplicates == ["https://example.com/a"]
    again = actions.add_sightings(
        actor=officer.user,
        case=consenting_case,
        urls=["https://example.com/b?utm_medium=x"],
        source="survivor",
    )
    assert again.created == []
    assert again.duplicates == ["https://example.com/b"]


def _nothing_changed(sighting: Sighting, events_before: int) -> None:
    fresh = Sighting.objects.get(pk=sighting.pk)
    assert fresh.state == sighting.state
    assert not Evidence.objects.filter(sighting=sighting).exists()
    # "found", and the failed capture's line saying why (no state change).
    timeline = list(SightingEvent.objects.filter(sighting=sighting))
    assert len(timeline) == 2
    assert timeline[1].from_state == timeline[1].to_state == sighting.state
    assert timeline[1].note.startswith("Capture failed: ")
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/loop/a", "redirect"),
        ("/chain/9", "redirect"),
        ("/endless", "larger than"),
        ("/gzip-bomb", "larger than"),
        ("/drip?every=1", "longer than"),
        ("/to?u=http://10.1.2.3/", "private|reserved|not allowed|refused"),
        ("/to?u=file:///etc/passwd", "scheme|http"),
    ],
)
def test_hostile_sites_are_refused_at_capture_and_change_nothing(
    site: TestSite, consenting_case: Case, officer: Persona, path: str, why: str
) -> None:
    with override_settings(HAVEN_FETCH_ALLOW_LOOPBACK=True, HAVEN_FETCH_TIMEOUT_SECONDS=3):
        sighting = actions.add_sightings(
            actor=officer.user, case=consenting_case, urls=[site.url(path)], source="counsellor"
        ).created[0]
        with override_settings(HAVEN_FETCH_MAX_BYTES=2 * 2**20):
            before = AuditEvent.objects.count()
            with pytest.raises(ActionError, match=f"(?i)Could not fetch .*({why})"):
                actions.capture_evidence(actor=officer.user, sighting=sighting)
    _nothing_changed(sighting, before)


def test_loopback_is_refused_unless_the_setting_allows_it(
    site: TestSite, consenting_case: Case, officer: Persona
) -> None:
    page = site.put("/loopback/page", "<html>hello</html>")
    with override_settings(HAVEN_FETCH_ALLOW_LOOPBACK=True):
        sighting = actions.add_sightings(
            actor=officer.user, case=consenting_case, urls=[page], source="counsellor"
        ).created[0]
    before = AuditEvent.objects.count()
    with pytest.raises(ActionError, match=r"(?i)Could not fetch"):
        actions.capture_evidence(actor=officer.user, sighting=sighting)
    _nothing_changed(sighting, before)


def test_a_decompression_bomb_image_is_recorded_without_a_hash(
    site: TestSite, consenting_case: Case, officer: Persona
) -> None:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (20000, 20000)).save(out, "PNG")  # 400 megapixels in a few hundred kB
    media = site.put("/bomb/img.png", out.getvalue(), "image/png")
    page = site.put("/bomb/page", "<html><img src='/bomb/img.png'></html>")
    with override_settings(HAVEN_FETCH_ALLOW_LOOPBACK=True):
        sighting = actions.add_sightings(
            actor=officer.user, case=consenting_case, urls=[page], media_url=media, source="counsellor"
        ).created[0]
        rows = actions.capture_evidence(actor=officer.user, sighting=sighting)
    media_row = rows[1]
    assert media_row.pdq == ""
    assert media_row.distance is None
    assert "pixels" in media_row.error or "too large" in media_row.error.lower()
    assert len(media_row.sha256) == 64
