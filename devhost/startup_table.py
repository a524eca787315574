"""The table of functions the host logs at start-up, as `func start` prints one: what runs,
on which trigger, and where to reach it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from devhost.catalog import Catalog


def describe_functions(
    catalog: Catalog,
    *,
    base_url: str,
    route_prefix: str,
    queues: Mapping[str, str],
    next_runs: Mapping[str, datetime | None],
) -> str:
    rows: list[tuple[str, str, str, str]] = []
    for http in catalog.http:
        path = "/".join(part for part in (route_prefix, http.route) if part)
        methods = ",".join(sorted(http.methods)) or "ALL"
        rows.append((http.name, "http", methods, f"{base_url}/{path} [{http.auth_level}]"))
    for queue in catalog.queues:
        name = queues.get(queue.name, queue.queue_name)
        connection = queue.connection or "AzureWebJobsStorage"
        rows.append((queue.name, "queue", name, f"connection {connection}, poison {name}-poison"))
    for timer in catalog.timers:
        upcoming = next_runs.get(timer.name)
        detail = f"next {upcoming:%Y-%m-%d %H:%M:%S} UTC" if upcoming else ""
        if timer.run_on_startup:
            detail += ", runs on startup"
        rows.append((timer.name, "timer", timer.schedule, detail))
    if not rows:
        return "No functions found: is the FunctionApp's module the right one?"
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3]
        for row in rows
    ]
    return f"Functions ({len(rows)}):\n" + "\n".join(lines)
