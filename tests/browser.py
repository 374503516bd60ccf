"""Headless Chromium driven over the DevTools protocol (a pipe, no extra package), and a static
file server with range requests: enough to run ReplayWeb.page's `ui.js` and `sw.js` on
127.0.0.1 against a WACZ, as its users do."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
import time
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

if TYPE_CHECKING:
    from types import TracebackType

CHROMIUM_FLAGS: Final = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
#: The ReplayWeb.page release the tests load (npm's `replaywebpage` package: its ui.js and
#: sw.js are the built app, so nothing of its build chain is needed).
REPLAYWEBPAGE: Final = "replaywebpage@2.4.6"
_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)$")


def replaywebpage_dir(cache: Path) -> Path:
    """ui.js, sw.js and index.html of ReplayWeb.page, from `npm pack` into `cache` (once)."""
    target = cache / REPLAYWEBPAGE.replace("@", "-")
    if (target / "sw.js").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch ReplayWeb.page (Debian package npm)")
    cache.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run(
        [npm, "pack", "--silent", REPLAYWEBPAGE],
        cwd=cache, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    tarball = cache / packed.stdout.strip().splitlines()[-1]
    staging = cache / f".{target.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name in _WANTED]
        tar.extractall(staging, members=members, filter="data")
    (staging / "package").replace(target) if not target.exists() else None
    tarball.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return target


_WANTED: Final = frozenset({"package/ui.js", "package/sw.js", "package/index.html"})


class _Handler(SimpleHTTPRequestHandler):
    """Static files with single byte ranges (ReplayWeb.page reads WACZ files by range)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        wanted = _RANGE.match(self.headers.get("Range", "").strip())
        if not path.is_file() or wanted is None:
            return super().send_head()
        size = path.stat().st_size
        first, last = wanted.groups()
        start = int(first) if first else max(0, size - int(last or 0))
        end = min(int(last), size - 1) if first and last else size - 1
        if start >= size or start > end:
            self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            return None
        fh = path.open("rb")
        fh.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return _Limited(fh, end - start + 1)


class _Limited:
    def __init__(self, fh: Any, length: int) -> None:
        self.fh, self.left = fh, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.fh.read(size)
        self.left -= len(data)
        return bytes(data)

    def close(self) -> None:
        self.fh.close()


class StaticServer:
    """Serves `root` on 127.0.0.1 at a free port."""

    def __init__(self, root: Path) -> None:
        handler = type("Handler", (_Handler,), {})
        self.server = ThreadingHTTPServer(
            ("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root))
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.server.shutdown()
        self.server.server_close()


class Chromium:
    """Headless Chromium with `--remote-debugging-pipe`: DevTools commands over fds 3 and 4."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        os.set_inheritable(to_chrome_r, True)
        os.set_inheritable(from_chrome_w, True)

        def fds() -> None:
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # preexec_fn sets the child's fds 3 and 4 before the fds not kept are closed.
            preexec_fn=fds, pass_fds=(3, 4),
        )  # fmt: skip
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """One DevTools command; returns its result (events in between are dropped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def open_page(self, url: str) -> str:
        """A new tab at `url`; returns its DevTools session id."""
        target = self.send("Target.createTarget", url=url)["targetId"]
        return str(self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"])

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", session, expression=expression, returnByValue=True,
            awaitPromise=True,
        )  # fmt: skip
        return result.get("result", {}).get("value")

    def wait_for(self, session: str, expression: str, timeout: float = 60.0) -> Any:
        """Evaluate until the value is truthy; returns it (or the last value at the deadline)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(session, expression)
            if value:
                return value
            time.sleep(0.5)
        return value

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):  # already gone: nothing to close
            self.send("Browser.close")
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()


#: Walks ReplayWeb.page's shadow roots to the replay iframe: its src and its text.
REPLAY_FRAME_JS: Final = """
(() => {
  const seen = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'IFRAME') seen.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  for (const frame of seen) {
    try {
      const doc = frame.contentDocument;
      if (doc && doc.body && doc.body.innerText.trim()) {
        return {src: frame.src, title: doc.title, text: doc.body.innerText};
      }
    } catch (e) {}
  }
  return null;
})()
"""


def replay_in_replaywebpage(
    browser: Chromium, app_url: str, wacz_url: str, url: str, ts: str, timeout: float = 90.0
) -> dict[str, str] | None:
    """Open `url` at `ts` (14 digits) from `wacz_url` in ReplayWeb.page; the replay frame's
    src, title and text once it shows text, else None."""
    page = f"{app_url}/?source={wacz_url}#view=replay&url={url}&ts={ts}"
    session = browser.open_page(page)
    value = browser.wait_for(session, REPLAY_FRAME_JS, timeout)
    browser.send("Target.closeTarget", targetId=_target_of(browser, session))
    return value if isinstance(value, dict) else None


def _target_of(browser: Chromium, session: str) -> str:
    for info in browser.send("Target.getTargets")["targetInfos"]:
        if info.get("type") == "page" and info.get("attached"):
            return str(info["targetId"])
    return ""
