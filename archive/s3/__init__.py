"""S3 storage: a durable local spool (`spool`), upload threads that verify every object
(`uploader`), and the thin Store over both (`store`); `open_store` picks it for s3:// URIs."""

from newsarchive.archive.s3.client import make_client
from newsarchive.archive.s3.options import S3Options
from newsarchive.archive.s3.spool import SpoolFullError
from newsarchive.archive.s3.store import S3Store

__all__ = ["S3Options", "S3Store", "SpoolFullError", "make_client"]
