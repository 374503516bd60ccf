"""The network policy: which URL schemes and which resolved addresses a crawl may connect to."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The only schemes a crawl fetches: everything else (file:, data:, s3:, ftp:, javascript:...)
#: is refused wherever the URL came from (link, redirect, robots `Sitemap:`, meta refresh).
ALLOWED_SCHEMES: Final = frozenset({"http", "https"})


class Reason(StrEnum):
    """Why a request is refused; also the last part of its stats key (`policy/refused/...`)."""

    SCHEME = "scheme"
    UNSPECIFIED = "unspecified"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    CGNAT = "cgnat"
    MULTICAST = "multicast"
    PRIVATE = "private_network"
    RESERVED = "reserved"


# Python's ipaddress has no flag for the shared address space (RFC 6598); it is not global.
_CGNAT_NET: Final = ipaddress.IPv4Network("100.64.0.0/10")
# "This network" (RFC 791): connecting to 0.x.y.z reaches the local host on Linux.
_THIS_NET: Final = ipaddress.IPv4Network("0.0.0.0/8")
# NAT64 well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached.
_NAT64_NET: Final = ipaddress.IPv6Network("64:ff9b::/96")
# IPv4-compatible IPv6 (RFC 4291, deprecated): ::a.b.c.d; some stacks still route it.
_COMPAT_NET: Final = ipaddress.IPv6Network("::/96")
# inet_aton spellings the OS resolver takes as IPv4: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
_NUMERIC_HOST: Final = re.compile(
    r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}"
)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: mapped, 6to4, NAT64, Teredo client, or
    IPv4-compatible forms. None for a plain IPv6 (or an IPv4) address."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64_NET or (address in _COMPAT_NET and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify(address: IPAddress) -> Reason | None:
    """Why a connection to `address` is refused by default, or None for a public address."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        # ::ffff:127.0.0.1 reaches 127.0.0.1: judge what is reached.
        return classify(embedded)
    if address.is_unspecified or address in _THIS_NET:
        return Reason.UNSPECIFIED
    if address.is_loopback:
        return Reason.LOOPBACK
    if address.is_link_local:
        return Reason.LINK_LOCAL
    if address in _CGNAT_NET:
        return Reason.CGNAT
    if address.is_multicast:
        return Reason.MULTICAST
    if address.is_reserved:
        return Reason.RESERVED
    if address.is_private:
        return Reason.PRIVATE
    if not address.is_global:
        return Reason.RESERVED
    return None


def host_address(host: str) -> IPAddress | None:
    """The address a URL host names literally, in any spelling the OS resolver accepts
    (`[::ffff:127.0.0.1]`, `2130706433`, `0x7f000001`, `0177.0.0.1`); None for a name."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(text.rstrip(".")):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text.rstrip(".")))
        except OSError:
            return None
    return None


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings (`127.0.0.0/8`, `fd00::/8`, a bare address) as networks; ValueError names
    the bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not a network: {value!r} ({exc})") from None
    return tuple(networks)


def network_allow(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The NETWORK_ALLOW setting's networks; ValueError names the setting and the bad value."""
    try:
        return parse_networks(values)
    except ValueError as exc:
        raise ValueError(f"NETWORK_ALLOW: {exc}") from None


def as_network(address: IPAddress) -> IPNetwork:
    """A single address as a network of one."""
    return ipaddress.ip_network(address)


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """Refuses non-public addresses, except those in `allowed` (a site's own addresses and the
    networks its config or NETWORK_ALLOW names)."""

    allowed: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> Reason | None:
        """Why a connection to `address` is refused, or None when it may go ahead."""
        reason = classify(address)
        if reason is None:
            return None
        embedded = embedded_ipv4(address)
        for candidate in (address, embedded):
            if candidate is not None and any(
                candidate.version == net.version and candidate in net for net in self.allowed
            ):
                return None
        return reason

    def allowing(self, networks: Iterable[IPNetwork]) -> NetworkPolicy:
        """This policy with more allowed networks."""
        extra = tuple(net for net in networks if net not in self.allowed)
        return NetworkPolicy(self.allowed + extra) if extra else self
