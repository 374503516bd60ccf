"""One report for a scaled-out run: the reports its workers wrote, added up.

Each process of a run writes ``reports/SITE/RUN-HOST-PID.json``; the run's report
``reports/SITE/RUN.json`` sums their counts, keeps the earliest start and latest finish, and
lists the workers with their own numbers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from newsarchive.archive.layout import REPORT_PREFIX, report_key, safe_segment

if TYPE_CHECKING:
    from newsarchive.archive.store import Store


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Sum numbers and nested numbers; keep the first value of anything else."""
    for name, value in part.items():
        if isinstance(value, bool) or not isinstance(value, int | float | dict):
            total.setdefault(name, value)
        elif isinstance(value, dict):
            _add(total.setdefault(name, {}), value)
        else:
            total[name] = total.get(name, 0) + value


def worker_reports(store: Store, site: str, run_id: str) -> list[dict[str, Any]]:
    """The reports the processes of a run wrote, oldest start first."""
    start = f"{REPORT_PREFIX}/{safe_segment(site)}/{safe_segment(run_id)}-"
    keys = [
        key for key in store.list(f"{REPORT_PREFIX}/{safe_segment(site)}") if key.startswith(start)
    ]
    reports = [json.loads(store.get_bytes(key)) for key in keys]
    return sorted(reports, key=lambda r: str(r.get("started", "")))


def aggregate(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's report from its workers' reports."""
    if not reports:
        raise ValueError("no worker reports to aggregate")
    total: dict[str, Any] = {}
    for report in reports:
        _add(total, {k: v for k, v in report.items() if k != "worker"})
    total["started"] = min(str(r["started"]) for r in reports)
    total["finished"] = max(str(r["finished"]) for r in reports)
    total["exit_code"] = max(int(r.get("exit_code", 0)) for r in reports)
    total["finish_reason"] = ",".join(sorted({str(r.get("finish_reason")) for r in reports}))
    total.pop("duration_seconds", None)
    total["workers"] = [
        {
            "worker": r.get("worker"),
            "started": r.get("started"),
            "finished": r.get("finished"),
            "responses": r.get("fetched", {}).get("responses", 0),
            "texts": r.get("texts", 0),
            "finish_reason": r.get("finish_reason"),
        }
        for r in reports
    ]
    return total


def write_run_report(store: Store, site: str, run_id: str) -> dict[str, Any]:
    """Aggregate the run's worker reports into ``reports/SITE/RUN.json``; returns it."""
    report = aggregate(worker_reports(store, site, run_id))
    body = json.dumps(report, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    store.put_bytes(report_key(site, run_id), body, "application/json")
    return report
