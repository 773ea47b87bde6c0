"""A :class:`~.model.Report` -> one self-contained HTML page: inline CSS and SVG figures, no
script, no external resource (works offline, from a mail attachment or a CI artifact)."""

from __future__ import annotations

import re
from html import escape

from tokenswarm.report.model import Cell, Figure, Report, Section, Table

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px;
       color: #1d2330; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccd; padding-bottom: .2em;
       margin-top: 2em; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .8em 0; font-size: 12px; }
th, td { border: 1px solid #d5d9e2; padding: 3px 7px; white-space: nowrap; }
th { background: #eef1f6; } td[data-value] { text-align: right;
       font-variant-numeric: tabular-nums; }
td.pass { background: #dff3e3; } td.fail { background: #f9dede; } td.na { color: #777; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; }
li { margin-bottom: .4em; }
"""
_STATUS = {"pass": "pass", "fail": "fail", "n/a": "na"}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _cell(cell: Cell) -> str:
    css = _STATUS.get(cell.text)
    attrs = f' class="{css}"' if css else ""
    if cell.value is not None:
        attrs += f' data-value="{cell.value!r}"'
    return f"<td{attrs}>{escape(cell.text)}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(map(_cell, row)) + "</tr>" for row in table.rows)
    return (
        f'<div class="scroll"><table id="{slug(table.id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def _figure(figure: Figure) -> str:
    return (
        f'<figure id="{slug(figure.id)}">{figure.svg}'
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
    )


def _section(section: Section) -> str:
    parts = [f'<section id="{slug(section.id)}"><h2>{escape(section.title)}</h2>']
    parts += [f"<p>{escape(p)}</p>" for p in section.paragraphs]
    if section.items:
        parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in section.items) + "</ul>")
    parts += [_table(t) for t in section.tables]
    parts += [_figure(f) for f in section.figures]
    return "\n".join(parts) + "</section>"


def render(report: Report) -> str:
    nav = " ".join(f'<a href="#{slug(s.id)}">{escape(s.title)}</a>' for s in report.sections)
    body = "\n".join(_section(s) for s in report.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(report.title)}</title><style>{CSS}</style></head>\n<body>"
        f"<h1>{escape(report.title)}</h1><nav>{nav}</nav>\n{body}\n</body></html>\n"
    )
