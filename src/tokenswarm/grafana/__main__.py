"""Write (or ``--check``) the dashboard JSON files: ``python -m tokenswarm.grafana [DIR]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tokenswarm.grafana import DASHBOARDS

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "grafana" / "dashboards"


def render(name: str) -> str:
    """The file content of dashboard ``name`` (stable: sorted keys, 2-space indent)."""
    return json.dumps(DASHBOARDS[name](), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tokenswarm.grafana", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a file differs from the code instead of writing it",
    )
    args = parser.parse_args(argv)
    stale = []
    for name in DASHBOARDS:
        path = args.directory / name
        text = render(name)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(
            "out of date (run python -m tokenswarm.grafana): " + ", ".join(stale), file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
