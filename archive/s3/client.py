"""Talking to S3: one boto3 client from Scrapy's AWS_* names, the bucket and prefix of a store,
and which errors mean "the store is down" rather than "this request is wrong"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from newsarchive.archive.s3.options import as_bool
from newsarchive.config.redact import redact

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_s3 import S3Client

    from newsarchive.archive.s3.options import S3Options

#: Error codes meaning the credentials, not the request, are wrong.
CREDENTIAL_CODES: Final = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
     "ExpiredToken", "TokenRefreshRequired", "403"}
)  # fmt: skip
NOT_FOUND_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})
#: Scrapy's AWS_* names and the boto3 session arguments they set.
_SESSION_ARGS: Final = (
    ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
    ("AWS_SESSION_TOKEN", "aws_session_token"),
    ("AWS_REGION_NAME", "region_name"),
)


def make_client(options: Mapping[str, Any], s3: S3Options) -> S3Client:
    """One S3 client: the standard AWS chain, overridden by any Scrapy-style option given."""
    session_args = {arg: options[name] for name, arg in _SESSION_ARGS if options.get(name)}
    client_args: dict[str, Any] = {}
    if options.get("AWS_ENDPOINT_URL"):
        client_args["endpoint_url"] = options["AWS_ENDPOINT_URL"]
    if options.get("AWS_USE_SSL") not in (None, ""):
        client_args["use_ssl"] = as_bool(options["AWS_USE_SSL"])
    if options.get("AWS_VERIFY") not in (None, ""):
        verify = options["AWS_VERIFY"]
        # A CA bundle path or a boolean, as botocore takes it.
        try:
            client_args["verify"] = as_bool(verify)
        except ValueError:
            client_args["verify"] = str(verify)
    s3_config: Any = {"addressing_style": s3.addressing_style} if s3.addressing_style else None
    config = Config(
        s3=s3_config,
        # boto3's own retries give up within seconds on a dead endpoint; the spool keeps the data.
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=max(10, s3.upload_threads * 10),
        # We send Content-MD5 and compare after upload ourselves; no second checksum pass.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session(**session_args)
    return session.client("s3", config=config, **client_args)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Where a store's objects live: a client, a bucket and a key prefix in it."""

    client: S3Client
    name: str
    #: A checked store key (see `layout.check_key`), or "" for the whole bucket.
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.name}/{self.prefix}" if self.prefix else f"s3://{self.name}"

    @property
    def endpoint(self) -> str:
        # An endpoint URL may carry user:password; messages and paths show it redacted.
        return redact(str(self.client.meta.endpoint_url))

    @property
    def where(self) -> str:
        """The store as messages name it: URI and endpoint."""
        return f"{self.uri} at {self.endpoint}"

    def key(self, key: str) -> str:
        """The S3 key of a store key; "" names the prefix itself (for listings)."""
        if not key:
            return f"{self.prefix}/" if self.prefix else ""
        return f"{self.prefix}/{key}" if self.prefix else key


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in NOT_FOUND_CODES


def is_unreachable(exc: BaseException) -> bool:
    """The store is down, overloaded or refuses our credentials: waiting may help, retrying
    this one request at once will not."""
    if isinstance(exc, BotoConnectionError | HTTPClientError | NoCredentialsError):
        return True
    if isinstance(exc, S3UploadFailedError) and exc.__cause__ is not None:
        return is_unreachable(exc.__cause__)
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in CREDENTIAL_CODES or status >= 500 or status == 429
    return False
