"""A DNS resolver that enforces the network policy on every address a connection would use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, cast

from scrapy.resolver import CachingHostnameResolver
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer, provider

from newsarchive.config.network import NetworkPolicy, host_address, network_allow

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase
    from twisted.internet.interfaces import IAddress, IHostResolution

    from newsarchive.config.network import IPNetwork


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a host's lookup came back empty: the reason and one of the refused addresses."""

    #: A config.network reason (LOOPBACK, PRIVATE...).
    reason: str
    address: str


@provider(IResolutionReceiver)
class _PolicyReceiver:
    """Passes on the allowed addresses of a resolution; records a refusal when none is left."""

    def __init__(self, resolver: PolicyResolver, receiver: IResolutionReceiver, host: str) -> None:
        self.resolver = resolver
        # Any: zope interfaces declare methods without self, which mypy cannot call.
        self.receiver: Any = receiver
        self.host = host
        self.passed = 0
        self.refused: Refusal | None = None

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:
        host = getattr(address, "host", None)
        ip = host_address(host) if isinstance(host, str) else None
        reason = "unknown" if ip is None else self.resolver.policy.refusal(ip)
        if reason is None:
            self.passed += 1
            self.receiver.addressResolved(address)
        elif self.refused is None:
            self.refused = Refusal(reason, str(host))

    def resolutionComplete(self) -> None:
        if not self.passed and self.refused is not None:
            # The endpoint fails with a bare DNSLookupError; the policy middleware reads this
            # record to say why, count it and not retry.
            self.resolver.refusals[self.host] = self.refused
        else:
            self.resolver.refusals.pop(self.host, None)
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class PolicyResolver(CachingHostnameResolver):
    """Scrapy's caching resolver (IPv4 and IPv6, every address of a name) that drops addresses
    the network policy refuses, so a connection can only go to an allowed one: the check is on
    what the socket connects to, for every request, redirects included. Twisted asks it for IP
    literals too (HostnameEndpoint resolves every host), so `http://2130706433/` is judged as
    127.0.0.1.

    One resolver serves the whole process (Scrapy installs it on the reactor): the networks the
    sites of one process allow (NetworkPolicyMiddleware adds them at start) add up. Settings:
    NETWORK_POLICY_ENABLED (off: plain CachingHostnameResolver behaviour), NETWORK_ALLOW,
    DNSCACHE_ENABLED, DNSCACHE_SIZE.
    """

    def __init__(
        self, reactor: ReactorBase, cache_size: int, policy: NetworkPolicy, enabled: bool = True
    ) -> None:
        super().__init__(reactor, cache_size)
        self.policy = policy
        self.enabled = enabled
        #: Hosts whose every address was refused at their last lookup.
        self.refusals: dict[str, Refusal] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        # `crawler` is the CrawlerProcess here: only its settings are there.
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        policy = NetworkPolicy(network_allow(settings.getlist("NETWORK_ALLOW")))
        return cls(reactor, cache_size, policy, settings.getbool("NETWORK_POLICY_ENABLED"))

    def allow(self, networks: Iterable[IPNetwork]) -> None:
        """Allow these networks too (a site's own addresses, its `allow_networks`)."""
        self.policy = self.policy.allowing(networks)

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        receiver = (
            _PolicyReceiver(self, resolutionReceiver, hostName)
            if self.enabled
            else resolutionReceiver
        )
        return super().resolveHostName(
            cast("IResolutionReceiver", receiver),
            hostName,
            portNumber,
            addressTypes,
            transportSemantics,
        )


def installed_resolver() -> PolicyResolver | None:
    """The process's PolicyResolver, when TWISTED_DNS_RESOLVER installed one on the reactor
    (CrawlerProcess does; test crawls under CrawlerRunner have none)."""
    from twisted.internet import reactor  # noqa: PLC0415 - the reactor is installed at run time

    resolver = getattr(reactor, "nameResolver", None)
    return resolver if isinstance(resolver, PolicyResolver) else None
