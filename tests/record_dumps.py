"""Reading ``--dump-records`` files (one JSON line per request, one file per worker process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_dumps(directory: Path) -> dict[int, list[dict[str, Any]]]:
    """Records by worker process id (from the ``<host>_<pid>.jsonl`` file names)."""
    return {
        int(path.stem.rsplit("_", 1)[1]): [json.loads(line) for line in path.open()]
        for path in sorted(directory.glob("*.jsonl"))
    }


def peak_concurrency(records: list[dict[str, Any]], after_ns: int = 0) -> int:
    """Most requests in flight at once (closed-loop users: one request each), counting
    requests started at or after ``after_ns``."""
    events = sorted(
        (ns, step)
        for r in records
        if r["start_wall_ns"] >= after_ns
        for ns, step in ((r["start_wall_ns"], 1), (r["end_wall_ns"], -1))
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak
