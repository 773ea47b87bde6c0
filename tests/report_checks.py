"""Checks on a built report shared by the report tests: its tables parsed (HTML cells with
their data-value, Markdown rows), the stage table compared with summary.json, and the page
rendered in headless Chromium."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tokenswarm.report.model import fmt

STAGE_COLUMNS = {  # report column -> path in a summary.json stage
    "users": ("users",),
    "ok": ("requests", "ok"),
    "failed": ("requests", "failed"),
    "output tok/s": ("throughput", "output_tps"),
    "total tok/s": ("throughput", "total_tps"),
    "req/s": ("throughput", "rps"),
    "goodput req/s": ("throughput", "goodput_rps"),
    **{
        f"{m.upper()} {s}": ("metrics", f"{m}_ms", s)
        for m in ("ttft", "itl", "tpot", "e2e")
        for s in ("p50", "p90", "p99")
    },
}


class _Tables(HTMLParser):
    """Collects each table's header cells and body cells (text, data-value)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}
        self._rows: list[list[tuple[str, str | None]]] | None = None
        self._cell: list[str] | None = None
        self._value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._value = [], dict(attrs).get("data-value")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._rows is not None:
            self._rows[-1].append(("".join(self._cell), self._value))
            self._cell = None
        elif tag == "table":
            self._rows = None


def html_tables(text: str) -> dict[str, list[dict[str, tuple[str, str | None]]]]:
    """Table id -> body rows as {column header: (cell text, data-value or None)}."""
    parser = _Tables()
    parser.feed(text)
    out = {}
    for table_id, (header, *rows) in parser.tables.items():
        columns = [text for text, _ in header]
        out[table_id] = [dict(zip(columns, row, strict=True)) for row in rows]
    return out


def md_table(text: str, header_start: str) -> list[dict[str, str]]:
    """Body rows ({column: text}) of the Markdown table whose header starts ``header_start``."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    columns = [c.strip() for c in lines[first].strip("|").split(" | ")]
    rows = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows


def _get(stage: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        stage = stage[key]
    return stage


def stage_table_matches(html: str, md: str, summaries: list[dict[str, Any]]) -> int:
    """Assert that the stage table of the HTML (exact data-value, rounded text) and of the
    Markdown (rounded text) shows every stage of ``summaries`` in order; returns the rows."""
    html_rows = html_tables(html)["stages"]
    md_rows = md_table(md, "| run | stage |")
    expected = [(s["run_id"], stage) for s in summaries for stage in s["stages"]]
    assert len(html_rows) == len(md_rows) == len(expected)
    for html_row, md_row, (run_id, stage) in zip(html_rows, md_rows, expected, strict=True):
        assert html_row["run"][0] == md_row["run"] == run_id
        assert html_row["stage"][0] == md_row["stage"] == stage["name"]
        for column, path in STAGE_COLUMNS.items():
            value = _get(stage, path)
            text, exact = html_row[column]
            assert (exact is None) if value is None else float(exact) == value, column
            assert text == md_row[column] == fmt(value), (column, stage["name"])
    return len(expected)


FIGURES_JS = """[...document.querySelectorAll('figure')].map(f => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {id: f.id, svg: !!svg, paths: svg ? svg.querySelectorAll('path').length : 0,
            width: box.width, height: box.height,
            caption: (f.querySelector('figcaption') || {}).textContent || ''};
})"""
EXTERNAL_JS = """[...document.querySelectorAll('script, link[rel=stylesheet], img, [src], [href]')]
    .map(e => e.getAttribute('src') || e.getAttribute('href') || e.tagName)
    .filter(u => !u.startsWith('#') && !u.startsWith('data:'))"""


def open_in_chromium(html: Path, screenshot: Path) -> list[dict[str, Any]]:
    """Open the report in headless Chromium, keep a full-page screenshot, and assert: no
    console error, nothing loaded from outside the file, every figure an inline SVG with
    drawn paths, a real size and a caption. Returns the figures (id, paths, size)."""
    from browser import Browser

    with Browser() as browser:
        page = browser.open(html.as_uri())
        page.wait_for("document.readyState === 'complete'")
        figures = page.evaluate(FIGURES_JS)
        external = page.evaluate(EXTERNAL_JS)
        size = page.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = page.send(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
        )
        errors = page.console_errors
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    assert errors == []
    assert external == []
    assert figures
    for figure in figures:
        assert figure["svg"] and figure["paths"] > 20, figure
        assert figure["width"] > 300 and figure["height"] > 150, figure
        assert figure["caption"], figure
    return figures
