"""A :class:`~.model.Report` -> a Markdown summary: the same sections, tables and advice as the
HTML (same number formatting), figures replaced by a pointer to the HTML."""

from __future__ import annotations

from tokenswarm.report.model import Report, Section, Table


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> list[str]:
    lines = [
        "| " + " | ".join(map(_escape, table.columns)) + " |",
        "|" + "---|" * len(table.columns),
    ]
    lines += ["| " + " | ".join(_escape(c.text) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def _section(section: Section, html_name: str) -> list[str]:
    lines = [f"## {section.title}", ""]
    for paragraph in section.paragraphs:
        lines += [paragraph, ""]
    if section.items:
        lines += [f"- {item}" for item in section.items] + [""]
    for table in section.tables:
        lines += _table(table)
    if section.figures:
        names = "; ".join(f.caption for f in section.figures)
        lines += [f"Plots in {html_name}: {names}.", ""]
    return lines


def render(report: Report, html_name: str) -> str:
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += _section(section, html_name)
    return "\n".join(lines).rstrip() + "\n"
