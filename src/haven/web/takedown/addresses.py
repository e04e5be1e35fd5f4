"""URLs as officers paste them: checked, normalised for de-duplication, and mapped to a platform."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import idna
from django.conf import settings
from django.utils.translation import gettext as _

from haven.scan import parse_host_address, refusal
from haven.web.core.errors import ActionError

MAX_URL_LENGTH = 2000

# Query parameters that only track who clicked: dropped so one page is one sighting.
_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "igshid", "si", "ref_src")


_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")
# The WHATWG URL standard reads a host whose last label is a number (decimal, or 0x hex) as an IPv4
# address, and so do browsers and most HTTP stacks; such a host must then be a valid one.
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names, or None for a DNS name; refuses what is neither."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if ":" in host or host.startswith("["):
        raise ActionError(_("%(host)s is not a valid IP address.") % {"host": host})
    if not _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        return None
    spelt = parse_host_address(host)
    if spelt is None:
        raise ActionError(_("%(host)s is not a valid IP address.") % {"host": host})
    # 0x7f.1, 2130706433, 0177.0.0.1: what a filter reading dotted quads would miss.
    raise ActionError(
        _("%(host)s is an unusual spelling of the address %(address)s; write it as %(address)s.")
        % {"host": host, "address": spelt}
    )


def _domain(host: str) -> str:
    """A DNS name in its ASCII form; refuses what no DNS server would hold (``xn--``, ``a..b``)."""
    labels = host.split(".")
    ascii_labels = []
    for label in labels:
        if label.isascii() and not label.startswith("xn--"):
            # Underscores are not allowed by IDNA but some real host names carry them.
            if not _LABEL.match(label):
                raise ActionError(_("The host name %(host)s is not valid.") % {"host": host})
            ascii_labels.append(label)
            continue
        try:
            ascii_labels.append(idna.encode(label, uts46=True).decode("ascii"))
        except (idna.IDNAError, UnicodeError):
            raise ActionError(_("The host name %(host)s is not valid.") % {"host": host}) from None
    name = ".".join(ascii_labels)
    if len(name) > 253:
        raise ActionError(_("The host name %(host)s is not valid.") % {"host": host[:100]})
    return name


# Names that resolve to the machine itself or to a cloud's own network, whatever DNS says.
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".internal", ".local")


def _host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        raise ActionError(_("The address has no host name."))
    ip = _address(host)
    if ip is None:
        name = _domain(host)
        # IDNA maps fullwidth digits and ideographic full stops to ASCII ("１２７。０。０。１"):
        # check what the name became, not what was typed.
        ip = _address(name)
        if ip is None:
            if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
                raise ActionError(_("%(host)s is a private or reserved address.") % {"host": host})
            return name
    allow_loopback = getattr(settings, "HAVEN_FETCH_ALLOW_LOOPBACK", False)
    # The fetcher's own rule: also an IPv6 form of a private IPv4 address (mapped, 6to4, NAT64...).
    if refusal(ip, allow_loopback=allow_loopback) is not None:
        raise ActionError(_("%(host)s is a private or reserved address.") % {"host": host})
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def normalise(url: str) -> str:
    """The canonical form of a web address; refuses anything that is not a public http(s) URL."""
    url = url.strip()
    if not url:
        raise ActionError(_("The address is empty."))
    if len(url) > MAX_URL_LENGTH:
        raise ActionError(_("The address is longer than %(n)d characters.") % {"n": MAX_URL_LENGTH})
    if any(ord(c) < 33 for c in url):
        raise ActionError(_("The address contains spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ActionError(_("%(url)s is not a valid address.") % {"url": url[:200]}) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ActionError(
            _("Only http and https addresses can be handled, not %(scheme)s.") % {"scheme": scheme or "?"}
        )
    if parts.username or parts.password:
        raise ActionError(_("Addresses with a user name or password are not accepted."))
    host = _host(parts.hostname or "")
    netloc = host if port is None or port == {"http": 80, "https": 443}[scheme] else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING)
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), ""))


def url_key(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


def host_of(normalised: str) -> str:
    return (urlsplit(normalised).hostname or "").lower()


def domain_candidates(host: str) -> list[str]:
    """``a.b.example.com`` -> itself, ``b.example.com``, ``example.com``, ``com``: most specific first."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def clean_domain(text: str) -> str:
    """A domain pattern as an administrator types it (``*.example.com``, ``https://example.com/x``)."""
    text = text.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.removeprefix("*.").removeprefix(".").rstrip(".")
    if not text or len(text) > 253 or any(c.isspace() or c in "/?#@:" for c in text):
        raise ActionError(_("%(domain)s is not a domain name.") % {"domain": text or "?"})
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ActionError(_("%(domain)s is not a domain name.") % {"domain": text}) from None
