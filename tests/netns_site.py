"""A hostile site crawled inside a private network namespace (run by test_network_namespace).

Run as `unshare --net --mount python tests/netns_site.py OUT_DIR [-s NAME=VALUE...]`: sets up
loopback with extra addresses (a "public" 11.22.33.44 for the site, 10.77.0.1 and
169.254.169.254 as private and metadata targets), a hosts file of its own, one HTTP server on
every address of the namespace that notes which local address each request reached, then runs
the real `newsarchive crawl` of the site and writes OUT_DIR/result.json. Nothing leaves the
namespace: it has no other interface.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

PUBLIC = "11.22.33.44"
PRIVATE = "10.77.0.1"
METADATA = "169.254.169.254"
HOSTS = f"""127.0.0.1 localhost
::1 localhost
{PUBLIC} news.test
{PRIVATE} internal.test www.news.test
{METADATA} metadata.test
"""

#: Redirect routes of the site: name -> Location (PORT filled in). Each must be refused.
REDIRECTS = {
    "loopback": "http://127.0.0.1:{port}/secret",
    "localhost": "http://localhost:{port}/secret",
    "decimal": "http://2130706433:{port}/secret",
    "hex": "http://0x7f000001:{port}/secret",
    "octal": "http://0177.0.0.1:{port}/secret",
    "unspecified": "http://0.0.0.0:{port}/secret",
    "mapped": "http://[::ffff:127.0.0.1]:{port}/secret",
    "ipv6-loopback": "http://[::1]:{port}/secret",
    "private": "http://10.77.0.1:{port}/secret",
    "metadata": "http://169.254.169.254:{port}/latest/meta-data/",
    "dns-private": "http://internal.test:{port}/secret",
    "www-alias": "http://www.news.test:{port}/secret",
    "dns-metadata": "http://metadata.test:{port}/latest/meta-data/",
    "hop1": "/r/hop2",
    "hop2": "http://10.77.0.1:{port}/hop-target",
    "file": "file:///etc/hostname",
}
#: Pages with <meta http-equiv=refresh> to a private address.
META_REFRESH = {
    "metadata": "http://169.254.169.254:{port}/latest/meta-data/",
    "localhost": "http://localhost:{port}/secret",
}
ROBOTS = """User-agent: *
Allow: /
Sitemap: file:///etc/hostname
Sitemap: data:text/xml,%3Curlset%3E%3Curl%3E%3Cloc%3Ehttp://news.test/data-article%3C/loc%3E%3C/url%3E%3C/urlset%3E
Sitemap: s3://some-bucket/sitemap.xml
Sitemap: ftp://news.test/sitemap.xml
Sitemap: http://10.77.0.1:{port}/private-sitemap.xml
Sitemap: http://internal.test:{port}/internal-sitemap.xml
Sitemap: http://2130706433:{port}/numeric-sitemap.xml
"""


class Handler(http.server.BaseHTTPRequestHandler):
    port = 0
    log: list[dict[str, str]] = []  # noqa: RUF012 - one server per process

    def do_GET(self) -> None:
        local = self.connection.getsockname()[0].removeprefix("::ffff:")
        self.log.append({"local": local, "path": self.path, "host": self.headers["Host"] or ""})
        path = self.path
        if path == "/robots.txt":
            self._send(200, "text/plain", ROBOTS.format(port=self.port))
        elif path.startswith("/r/") and path[3:] in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[path[3:]].format(port=self.port))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/meta/") and path[6:] in META_REFRESH:
            target = META_REFRESH[path[6:]].format(port=self.port)
            body = (
                f'<html><head><meta http-equiv="refresh" content="0; url={target}"></head></html>'
            )
            self._send(200, "text/html", body)
        else:
            # What a private service would answer: it must never be archived.
            self._send(200, "text/plain", "SECRET-INSTANCE-CREDENTIALS")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class DualStackServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        # Every address of the namespace, IPv4 (mapped) and IPv6: the log says which one.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def setup_namespace(hosts_file: Path) -> None:
    for command in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "addr", "add", f"{PUBLIC}/32", "dev", "lo"],
        ["ip", "addr", "add", f"{PRIVATE}/32", "dev", "lo"],
        ["ip", "addr", "add", f"{METADATA}/32", "dev", "lo"],
    ):
        subprocess.run(command, check=True)
    hosts_file.write_text(HOSTS, encoding="utf-8")
    subprocess.run(["mount", "--bind", str(hosts_file), "/etc/hosts"], check=True)


def main(out: Path, extra: list[str]) -> None:
    work = Path(tempfile.mkdtemp(dir=out))
    setup_namespace(work / "hosts")
    server = DualStackServer(("::", 0), Handler)
    Handler.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://news.test:{Handler.port}"
    starts = [f"{base}/r/{name}" for name in REDIRECTS if name != "hop2"]
    starts += [f"{base}/meta/{name}" for name in META_REFRESH]
    sites = work / "sites"
    sites.mkdir()
    (sites / "hostile.yaml").write_text(
        yaml.safe_dump({"name": "hostile", "start_urls": starts, "max_age_days": None}),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "newsarchive.cli.main", "-v", "crawl", "--site", "hostile",
         "--sites-dir", str(sites), "--store", str(work / "store"),
         "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "DOWNLOAD_TIMEOUT=10",
         *extra],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    server.shutdown()
    (out / "result.json").write_text(
        json.dumps(
            {
                "port": Handler.port,
                "returncode": result.returncode,
                "stderr": result.stderr,
                "requests": Handler.log,
                "store": str(work / "store"),
            }
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
