"""Secrets never printed: the one redaction helper for messages, URIs, settings and log records."""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType

#: What a secret is replaced with.
MASK: Final = "***"
#: Setting and parameter names whose values are secrets (AWS_SECRET_ACCESS_KEY,
#: AWS_SESSION_TOKEN, HTTPPROXY_AUTH..., any *PASSWORD*, *TOKEN*, *SECRET*, *CREDENTIAL*).
_SECRET_NAME: Final = re.compile(
    r"secret|passw|token|credential|signature|api[_-]?key|access[_-]?key", re.IGNORECASE
)
# A secret shorter than this is not looked for by value (it would mask ordinary words).
_MIN_SECRET_LEN: Final = 4
# user:password@ (or a lone token@) in any scheme://authority.
_USERINFO: Final = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/?#@\s'\"]*)@")
# name=value pairs whose name says secret, in query strings, settings dumps and messages:
# ?aws_secret_access_key=X, 'AWS_SECRET_ACCESS_KEY': 'X', AWS_SESSION_TOKEN=X.
_NAMED_VALUE: Final = re.compile(
    r"(?P<name>[\w.-]*(?:secret|passw|token|credential|signature|api[_-]?key|access[_-]?key)[\w.-]*)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^\s'\"&,;}\])]+)",
    re.IGNORECASE,
)

_known: set[str] = set()
_known_lock = threading.Lock()


def is_secret_name(name: str) -> bool:
    """True for a setting, option or query parameter name that holds a secret."""
    return bool(_SECRET_NAME.search(name))


def remember(values: Iterable[object]) -> None:
    """Secret values to mask wherever they appear, whatever names them (process-wide: a secret
    read once must stay hidden in every later message of the process)."""
    with _known_lock:
        _known.update(
            str(value) for value in values if value and len(str(value)) >= _MIN_SECRET_LEN
        )


def remember_settings(settings: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
    """Remember the values of every secret-named setting (Scrapy Settings or a dict)."""
    items = settings.items() if hasattr(settings, "items") else settings
    remember(value for name, value in items if isinstance(value, str) and is_secret_name(name))


def redact(text: str) -> str:
    """`text` with user-info in URIs, secret-named values and remembered secrets masked."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _NAMED_VALUE.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def uri_secrets(uri: str) -> list[str]:
    """What in a URI carries credentials: "user-info", or the names of secret query parameters
    (never the values), so a refusal can say why without echoing them."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return []
    found = ["user-info"] if "@" in parts.netloc else []
    found += [
        name for name, _ in parse_qsl(parts.query, keep_blank_values=True) if is_secret_name(name)
    ]
    return found


class _RedactingRecord(logging.LogRecord):
    """A log record that redacts its message and traceback text when a handler formats them:
    records no handler writes (Scrapy's DEBUG lines under LOG_LEVEL=WARNING) cost nothing."""

    _redacted: str | None = None

    def getMessage(self) -> str:
        if self._redacted is None:
            self._redacted = redact(super().getMessage())
        return self._redacted

    # Formatters cache the formatted traceback in exc_text: store it redacted.
    @property
    def exc_text(self) -> str | None:
        return cast("str | None", self.__dict__.get("_exc_text"))

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self.__dict__["_exc_text"] = redact(value) if value else value


def _redact_record(record: logging.LogRecord) -> None:
    """Eager redaction, for records another library's factory makes."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):
        return  # a broken format: logging reports it when the record is written
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


def _redacting_excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


_installed = False


def install_log_redaction() -> None:
    """Redact every log record of the process, whichever handler writes it (stderr, run log
    files, Scrapy's "Overridden settings" dump): records are made redacting their message and
    traceback when formatted; and the traceback of an uncaught exception. Idempotent."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()
    if previous is logging.LogRecord:
        logging.setLogRecordFactory(_RedactingRecord)
    else:

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
    sys.excepthook = _redacting_excepthook
    _installed = True
