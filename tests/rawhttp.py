"""A loopback HTTP server that answers each path with the exact bytes given: bad status lines,
duplicate or huge headers, bodies cut short, whatever a hostile or broken server would send."""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import TYPE_CHECKING, ClassVar, Self

from newsarchive.archive.resource import Resource

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: The longest request head read; the crawler sends far less.
_MAX_HEAD = 1 << 16
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def response(
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (("Content-Type", "text/html; charset=utf-8"),),
    *,
    status: bytes = b"HTTP/1.1 200 OK",
    length: bool = True,
) -> bytes:
    """Raw response bytes: the status line, the headers as given (plus Content-Length of the
    body unless `length` is off), Connection: close, and the body."""
    lines = [status]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _Handler(socketserver.BaseRequestHandler):
    routes: ClassVar[Mapping[str, bytes]] = {}
    requested: ClassVar[list[str]] = []

    def handle(self) -> None:
        head = b""
        self.request.settimeout(10)
        try:
            while b"\r\n\r\n" not in head and len(head) < _MAX_HEAD:
                chunk = self.request.recv(4096)
                if not chunk:
                    return
                head += chunk
            target = head.split(b"\r\n", 1)[0].split(b" ")
            path = target[1].decode("latin-1") if len(target) > 1 else "/"
            self.requested.append(path)
            self.request.sendall(self.routes.get(path, NOT_FOUND))
            self.request.shutdown(socket.SHUT_WR)
        except OSError:
            return  # the crawler hung up (a size limit, a refused body): its side of the story


class RawHttpServer(Resource):
    """Threaded, bound to 127.0.0.1 on a free port; `routes` maps a request path (with its
    query) to the bytes sent back, after which the connection is closed."""

    def __init__(self) -> None:
        self.handler = type("Handler", (_Handler,), {"routes": {}, "requested": []})
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self.handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requested(self) -> list[str]:
        return self.handler.requested

    def serve(self, routes: Mapping[str, bytes]) -> None:
        self.handler.routes = routes

    def _enter(self) -> Self:
        self._thread.start()
        return self

    def _exit(self) -> None:
        self.server.shutdown()
        self.server.server_close()
