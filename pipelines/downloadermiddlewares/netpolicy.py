"""Refuse requests the network policy forbids: non-http(s) schemes and non-public addresses."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, NoReturn, Self
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.asyncio import run_in_thread
from twisted.internet.error import DNSLookupError

from newsarchive.config.network import (
    ALLOWED_SCHEMES,
    NetworkPolicy,
    Reason,
    as_network,
    host_address,
    network_allow,
    parse_networks,
)
from newsarchive.config.options import resolve_site
from newsarchive.config.redact import redact
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.resolver import installed_resolver

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from newsarchive.config.network import IPNetwork
    from newsarchive.pipelines.resolver import PolicyResolver

logger = logging.getLogger(__name__)


def _site_addresses(hosts: Iterable[str]) -> list[IPNetwork]:
    """Every address the site's configured hosts resolve to now (blocking: run in a thread)."""
    found: list[IPNetwork] = []
    for host in sorted(hosts):
        literal = host_address(host)
        if literal is not None:
            found.append(as_network(literal))
            continue
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            continue  # unresolvable now: its requests fail on their own
        for info in infos:
            address = host_address(str(info[4][0]))
            if address is not None:
                found.append(as_network(address))
    return found


class NetworkPolicyMiddleware:
    """Refuses, with a counted, logged-once reason, every request whose scheme is not http or
    https (file:, data:, s3:, ftp:, javascript:... from links, redirects, robots `Sitemap:`
    lines, meta refresh) and every request to an IP literal outside the policy; turns the
    resolver's refusals of resolved addresses (pipelines.resolver.PolicyResolver) into the same
    refusal, never retried.

    Allowed besides public addresses: what the site's configured URLs resolve to at start, the
    networks its `allow_networks` names, and NETWORK_ALLOW. Placed between the retry (550) and
    redirect (600) middlewares: its process_exception runs before retries, its
    process_request before capture. Settings: NETWORK_POLICY_ENABLED, NETWORK_ALLOW.
    """

    def __init__(
        self,
        crawler: Crawler,
        stats: StatsCollector,
        policy: NetworkPolicy,
        resolver: PolicyResolver | None = None,
    ) -> None:
        self.crawler = crawler
        self.stats = stats
        self.policy = policy
        self.resolver = resolver
        self._logged: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("NETWORK_POLICY_ENABLED"):
            raise NotConfigured("NETWORK_POLICY_ENABLED is off")
        # A bad value stops the crawl: NotConfigured would silently turn the policy off.
        allowed = network_allow(settings.getlist("NETWORK_ALLOW"))
        assert crawler.stats is not None
        mw = cls(crawler, crawler.stats, NetworkPolicy(allowed))
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    async def spider_opened(self) -> None:
        # CrawlerProcess installs the resolver when it starts, after building the crawlers.
        self.resolver = self.resolver or installed_resolver()
        # The site setting holds the validated config once the spider resolved it.
        site = resolve_site(self.crawler.settings)
        networks = list(parse_networks(getattr(site, "allow_networks", ())))
        networks += await run_in_thread(_site_addresses, getattr(site, "hosts", ()))
        self.allow(networks)

    def allow(self, networks: Iterable[IPNetwork]) -> None:
        networks = list(networks)
        self.policy = self.policy.allowing(networks)
        if self.resolver is not None:
            self.resolver.allow(networks)

    def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            self._refuse(
                request, Reason.SCHEME, f"scheme {scheme or '(none)'!r} is not http or https"
            )
        address = host_address(parts.hostname or "")
        if address is not None:
            reason = self.policy.refusal(address)
            if reason is not None:
                self._refuse(request, reason, f"address {address} is {reason.replace('_', ' ')}")

    def process_exception(self, request: Request, exception: Exception) -> None:
        # Scrapy wraps Twisted's DNSLookupError in CannotResolveHostError.
        cause = exception.__cause__ or exception
        if self.resolver is None or not isinstance(cause, DNSLookupError):
            return
        host = urlsplit(request.url).hostname or ""
        refusal = self.resolver.refusals.get(host)
        if refusal is not None:
            self._refuse(
                request,
                refusal.reason,
                f"{host} resolves to {refusal.address}, {refusal.reason.replace('_', ' ')}",
            )

    def _refuse(self, request: Request, reason: str, detail: str) -> NoReturn:
        self.stats.inc_value(f"{StatsKeys.POLICY_REFUSED}/{reason}")
        host = urlsplit(request.url).hostname or request.url[:40]
        message = redact(f"refused by the network policy: {detail}: {request.url}")
        if (host, reason) not in self._logged:
            # Once per host and reason: a hostile page can link a thousand private URLs.
            self._logged.add((host, reason))
            logger.warning("%s", message[:500])
        # A plain IgnoreRequest: like a robots.txt denial, a refusal is an outcome, not an error
        # (run reports and exit codes count IgnoreRequest apart).
        raise IgnoreRequest(message)
