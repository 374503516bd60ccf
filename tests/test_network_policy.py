"""The network policy's units: address classification (mapped and embedded forms included),
numeric IP spellings, the policy with allowances, the site key, the middleware and resolver."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest, NotConfigured
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import DNSLookupError

from newsarchive.config.network import (
    NetworkPolicy,
    Reason,
    classify,
    embedded_ipv4,
    host_address,
    parse_networks,
)
from newsarchive.config.sites import SiteConfigError, parse_site
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.netpolicy import NetworkPolicyMiddleware
from newsarchive.pipelines.resolver import PolicyResolver, Refusal

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", Reason.LOOPBACK),
        ("127.255.0.9", Reason.LOOPBACK),
        ("::1", Reason.LOOPBACK),
        ("10.1.2.3", Reason.PRIVATE),
        ("172.16.0.1", Reason.PRIVATE),
        ("192.168.1.1", Reason.PRIVATE),
        ("fc00::1", Reason.PRIVATE),
        ("fd12:3456::1", Reason.PRIVATE),
        ("169.254.169.254", Reason.LINK_LOCAL),
        ("fe80::1", Reason.LINK_LOCAL),
        ("100.64.0.1", Reason.CGNAT),
        ("100.127.255.254", Reason.CGNAT),
        ("224.0.0.1", Reason.MULTICAST),
        ("ff02::1", Reason.MULTICAST),
        ("0.0.0.0", Reason.UNSPECIFIED),
        ("0.1.2.3", Reason.UNSPECIFIED),
        ("::", Reason.UNSPECIFIED),
        ("240.0.0.1", Reason.RESERVED),
        # Mapped and embedded forms are judged by the IPv4 address they reach.
        ("::ffff:127.0.0.1", Reason.LOOPBACK),
        ("::ffff:10.0.0.1", Reason.PRIVATE),
        ("::ffff:169.254.169.254", Reason.LINK_LOCAL),
        ("2002:7f00:1::", Reason.LOOPBACK),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", Reason.LINK_LOCAL),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:1", Reason.PRIVATE),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", Reason.LOOPBACK),
        ("::7f00:1", Reason.LOOPBACK),  # IPv4-compatible
        ("8.8.8.8", None),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_classify(address: str, reason: str | None) -> None:
    assert classify(ipaddress.ip_address(address)) == reason


def test_embedded_ipv4() -> None:
    assert embedded_ipv4(ipaddress.ip_address("::ffff:1.2.3.4")) == ipaddress.IPv4Address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1111")) is None
    assert embedded_ipv4(ipaddress.ip_address("1.2.3.4")) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("example.com", None),
        ("deadbeef", None),
        ("1.2.3.4.5", None),
        ("99999999999", None),
        ("", None),
    ],
)
def test_host_address_reads_every_numeric_spelling(host: str, expected: str | None) -> None:
    found = host_address(host)
    assert (str(found) if found else None) == expected


def test_policy_allows_named_networks_and_their_mapped_forms() -> None:
    policy = NetworkPolicy(parse_networks(["127.0.0.0/8", "10.77.0.1"]))
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.2")) is None
    assert policy.refusal(ipaddress.ip_address("10.77.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("10.77.0.2")) == Reason.PRIVATE
    assert policy.refusal(ipaddress.ip_address("::1")) == Reason.LOOPBACK
    assert policy.refusal(ipaddress.ip_address("8.8.8.8")) is None
    wider = policy.allowing(parse_networks(["::1"]))
    assert wider.refusal(ipaddress.ip_address("::1")) is None
    assert policy.allowing(parse_networks(["127.0.0.0/8"])) is policy


def test_parse_networks_names_the_bad_value() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33'")):
        parse_networks(["10.0.0.0/33"])


def test_site_allow_networks_key() -> None:
    base = {"name": "s", "start_urls": ["http://example.com/"]}
    site = parse_site({**base, "allow_networks": ["10.0.0.0/8", "fd00::/8"]}, "s.yaml")
    assert site.allow_networks == ["10.0.0.0/8", "fd00::/8"]
    with pytest.raises(SiteConfigError, match="allow_networks"):
        parse_site({**base, "allow_networks": ["not-a-network"]}, "s.yaml")


# --- middleware ---------------------------------------------------------------------------


def _middleware(**settings: Any) -> NetworkPolicyMiddleware:
    crawler = get_crawler(settings_dict={"NETWORK_POLICY_ENABLED": True, **settings})
    return build_from_crawler(NetworkPolicyMiddleware, crawler)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", Reason.SCHEME),
        ("data:text/xml,<urlset/>", Reason.SCHEME),
        ("s3://bucket/sitemap.xml", Reason.SCHEME),
        ("ftp://example.com/sitemap.xml", Reason.SCHEME),
        ("http://127.0.0.1/", Reason.LOOPBACK),
        ("http://2130706433/", Reason.LOOPBACK),
        ("http://0x7f000001:8080/", Reason.LOOPBACK),
        ("http://0177.0.0.1/", Reason.LOOPBACK),
        ("http://[::ffff:127.0.0.1]/", Reason.LOOPBACK),
        ("http://0.0.0.0/", Reason.UNSPECIFIED),
        ("http://10.0.0.1/", Reason.PRIVATE),
        ("https://169.254.169.254/latest/meta-data/", Reason.LINK_LOCAL),
        ("http://100.64.0.1/", Reason.CGNAT),
    ],
)
def test_middleware_refuses_with_a_counted_reason(url: str, reason: str) -> None:
    mw = _middleware()
    with pytest.raises(IgnoreRequest, match="refused by the network policy"):
        mw.process_request(Request(url))
    assert mw.stats.get_value(f"{StatsKeys.POLICY_REFUSED}/{reason}") == 1


def test_middleware_lets_public_and_allowed_addresses_through() -> None:
    mw = _middleware(NETWORK_ALLOW=["127.0.0.0/8"])
    mw.process_request(Request("http://127.0.0.1:8000/"))
    mw.process_request(Request("https://example.com/"))
    mw.process_request(Request("http://8.8.8.8/"))
    mw.allow(parse_networks(["10.77.0.1"]))
    mw.process_request(Request("http://10.77.0.1/"))
    assert not mw.stats.get_stats()


def test_middleware_logs_once_per_host(caplog: pytest.LogCaptureFixture) -> None:
    mw = _middleware()
    with caplog.at_level(logging.WARNING):
        for path in range(5):
            with pytest.raises(IgnoreRequest):
                mw.process_request(Request(f"http://10.0.0.1/{path}"))
    assert len(caplog.records) == 1
    assert mw.stats.get_value(f"{StatsKeys.POLICY_REFUSED}/{Reason.PRIVATE}") == 5


def test_middleware_turns_a_resolver_refusal_into_a_refusal() -> None:
    mw = _middleware()
    mw.resolver = PolicyResolver.__new__(PolicyResolver)
    mw.resolver.refusals = {"internal.test": Refusal(Reason.PRIVATE, "10.77.0.1")}
    error = CannotResolveHostError("no results")
    error.__cause__ = DNSLookupError("no results")
    with pytest.raises(IgnoreRequest, match=r"internal.test resolves to 10.77.0.1"):
        mw.process_exception(Request("http://internal.test/a"), error)
    # Any other DNS failure is left to the retry middleware.
    assert mw.process_exception(Request("http://gone.test/a"), error) is None


def test_middleware_off() -> None:
    with pytest.raises(NotConfigured):
        _middleware(NETWORK_POLICY_ENABLED=False)


# --- resolver -----------------------------------------------------------------------------


class _FakeResolver:
    """Answers every name with fixed addresses, synchronously."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    def resolveHostName(self, receiver: Any, name: str, portNumber: int = 0, *args: Any) -> Any:
        receiver.resolutionBegan(None)
        for host in self.answers.get(name, []):
            kind = IPv6Address if ":" in host else IPv4Address
            receiver.addressResolved(kind("TCP", host, portNumber))
        receiver.resolutionComplete()
        return None


class _Collect:
    def __init__(self) -> None:
        self.addresses: list[IAddress] = []
        self.complete = False

    def resolutionBegan(self, resolution: object) -> None:
        pass

    def addressResolved(self, address: IAddress) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.complete = True


def _resolver(answers: dict[str, list[str]], allow: tuple[str, ...] = ()) -> PolicyResolver:
    resolver = PolicyResolver.__new__(PolicyResolver)
    resolver.original_resolver = _FakeResolver(answers)  # type: ignore[assignment]
    resolver.policy = NetworkPolicy(parse_networks(allow))
    resolver.enabled = True
    resolver.refusals = {}
    return resolver


def _resolve(resolver: PolicyResolver, name: str) -> list[str]:
    collect = _Collect()
    resolver.resolveHostName(collect, name)  # type: ignore[arg-type]
    assert collect.complete
    return [str(getattr(a, "host", "")) for a in collect.addresses]


def test_resolver_drops_refused_addresses_and_records_why() -> None:
    resolver = _resolver(
        {
            "internal.test": ["10.77.0.1"],
            "mixed.test": ["10.0.0.5", "93.184.215.14"],
            "mapped.test": ["::ffff:169.254.169.254"],
            "public.test": ["93.184.215.14", "2606:4700::1111"],
            "2130706433": ["127.0.0.1"],
        }
    )
    assert _resolve(resolver, "internal.test") == []
    assert resolver.refusals["internal.test"] == Refusal(Reason.PRIVATE, "10.77.0.1")
    assert _resolve(resolver, "mixed.test") == ["93.184.215.14"]
    assert "mixed.test" not in resolver.refusals
    assert _resolve(resolver, "mapped.test") == []
    assert resolver.refusals["mapped.test"].reason == Reason.LINK_LOCAL
    assert _resolve(resolver, "public.test") == ["93.184.215.14", "2606:4700::1111"]
    assert _resolve(resolver, "2130706433") == []
    resolver.allow(parse_networks(["127.0.0.1"]))
    assert _resolve(resolver, "2130706433") == ["127.0.0.1"]
    assert "2130706433" not in resolver.refusals


def test_resolver_off_passes_everything() -> None:
    resolver = _resolver({"internal.test": ["10.77.0.1"]})
    resolver.enabled = False
    assert _resolve(resolver, "internal.test") == ["10.77.0.1"]


def test_a_bad_network_allow_stops_the_crawl() -> None:
    # Never NotConfigured: a typo must not turn the policy off.
    with pytest.raises(ValueError, match="NETWORK_ALLOW: not a network: 'bogus'"):
        _middleware(NETWORK_ALLOW=["bogus"])
