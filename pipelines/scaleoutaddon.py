"""The scale-out add-on: with REDIS_URL set, the crawl takes its requests from the shared
frontier (`pipelines.scaleout`). Kept apart from it so that a crawl without REDIS_URL never
imports redis and scrapy-redis (about 6 MB of every crawl process)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings, Settings

_COMPONENTS: Final = "newsarchive.pipelines.scaleout"
SEED_ROLE: Final = "seed"
WORKER_ROLE: Final = "worker"


def shared_worker(settings: BaseSettings) -> bool:
    """True for a crawl that takes its requests from the shared queue (not a seeder)."""
    return bool(settings.get("REDIS_URL")) and settings.get("SCALEOUT_ROLE") == WORKER_ROLE


class ScaleOutAddon:
    """With REDIS_URL set: the Redis scheduler, the `ScaleOut` extension and the ledger
    middleware. Without it nothing changes. Settings: REDIS_URL."""

    def update_settings(self, settings: Settings) -> None:
        if not settings.get("REDIS_URL"):
            return
        # At the project's priority, so it replaces the project's own (disk-queue) scheduler;
        # a SCHEDULER given with -s still wins.
        settings.set("SCHEDULER", f"{_COMPONENTS}.RedisScheduler", priority="project")
        settings["EXTENSIONS"][f"{_COMPONENTS}.ScaleOut"] = 50
        # Outermost, so it sees the callback's output end after every other middleware.
        settings["SPIDER_MIDDLEWARES"][f"{_COMPONENTS}.LedgerMiddleware"] = 10
