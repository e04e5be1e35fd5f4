"""Which network addresses the fetcher may connect to.

Haven fetches pages that strangers put on the internet, so a URL is hostile input:
it may point at the centre's own network (``http://10.0.0.1/admin``), at a cloud
metadata service (``http://169.254.169.254/``), or at a name whose DNS answer
changes between a check and the connection (DNS rebinding).  The guard therefore
looks at the *address actually connected to*: literal hosts here, and every
resolved name in the resolver that the connector calls at connect time.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final, TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why ``ip`` may not be fetched from (a phrase), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a link-local address"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = refusal(inner, allow_loopback=False)
            if why is not None:
                return f"an IPv6 form of {inner}, {why}"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address (this machine)"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private-network address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved or non-public address"
    return None


def parse_host_address(host: str) -> IPAddress | None:
    """The address a URL host names literally, or None for a DNS name.

    Besides dotted quads and bracketed IPv6, this recognises the legacy numeric
    forms that ``inet_aton`` (and so many HTTP stacks) accept: ``2130706433``,
    ``0x7f.1``, ``017700000001``, ``127.1``.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if text and all(c in "0123456789abcdefxABCDEFX." for c in text) and text[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None
