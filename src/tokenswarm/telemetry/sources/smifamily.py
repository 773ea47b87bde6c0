"""Whole-document parsing shared by hy-smi and rocm-smi (JSON, CSV, text).

Both tools key their JSON by ``card<N>`` plus an optional ``system`` entry (driver version,
``PID<n>`` process lines, topology); text output is a concise table and/or ``GPU[N] : key:
value`` lines. The only difference between the tools is who decides the vendor: hy-smi is
always Hygon, rocm-smi is Hygon when DTK printed it (decided per output, see
:func:`smikeys.is_hygon`).
"""

from __future__ import annotations

import csv
import functools
import io
import re

from tokenswarm.telemetry.sources import smikeys
from tokenswarm.telemetry.sources.base import ParseError, ParseResult, ToolSpec, derived
from tokenswarm.telemetry.sources.jsonfix import load_lenient
from tokenswarm.telemetry.sources.table import device_lines, find_table
from tokenswarm.telemetry.sources.units import clean_str

_CARD = re.compile(r"^card(\d+)$")
_DRIVER = re.compile(r"^\s*driver version\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def _vendor(fixed: str | None, raw: dict[str, object]) -> str:
    if fixed:
        return fixed
    return "hygon" if smikeys.is_hygon({k: str(v) for k, v in raw.items()}) else "amd"


def cards_to_result(tool: str, fixed_vendor: str | None, doc: object,
                    result: ParseResult) -> ParseResult:
    """``{"card0": {...}, "system": {...}}`` -> samples sorted by index (card10 after card9)."""
    if not isinstance(doc, dict):
        raise ParseError(f"{tool}: expected a JSON object keyed by card, got {type(doc).__name__}")
    cards: list[tuple[int, dict[str, object]]] = []
    for key, value in doc.items():
        match = _CARD.match(str(key))
        if match and isinstance(value, dict):
            cards.append((int(match.group(1)), value))
        elif key == "system" and isinstance(value, dict):
            driver = next((clean_str(v) for k, v in value.items()
                           if smikeys.norm_key(k) == "driver version"), "")
            result.version = driver or result.version
        elif key != "":
            result.warnings.append(f"{tool}: unknown top-level key {key!r} ignored")
    for index, raw in sorted(cards, key=lambda card: card[0]):
        vendor = _vendor(fixed_vendor, raw)
        result.samples.append(
            smikeys.card_sample(tool, vendor, str(index), raw, result.warnings))
    if result.version:
        for sample in result.samples:
            sample.info["driver_version"] = result.version
    return result


def parse_json(tool: str, fixed_vendor: str | None, text: str) -> ParseResult:
    """JSON output, repaired when hy-smi broke it; ParseError when it cannot be read."""
    doc, notes = load_lenient(text, tool)
    return cards_to_result(tool, fixed_vendor, doc, ParseResult(warnings=notes))


def parse_csv(tool: str, fixed_vendor: str | None, text: str) -> ParseResult:
    """rocm-smi ``--csv``: header ``device,<JSON keys>``, rows ``card0,...`` (trailing spaces)."""
    rows = list(csv.reader(io.StringIO(text.strip())))
    if not rows or not rows[0] or rows[0][0].strip() != "device":
        raise ParseError(f"{tool}: CSV output without a 'device' header column")
    header = [name.strip() for name in rows[0]]
    doc: dict[str, object] = {}
    for row in rows[1:]:
        cells = [cell.strip() for cell in row]
        if cells and cells[0]:
            doc[cells[0]] = dict(zip(header[1:], cells[1:], strict=False))
    return cards_to_result(tool, fixed_vendor, doc, ParseResult())


def parse_text(tool: str, fixed_vendor: str | None, text: str) -> ParseResult:
    """Concise table and/or ``GPU[N] : key: value`` lines; never raises on odd text."""
    result = ParseResult()
    driver = _DRIVER.search(text)
    result.version = driver.group(1) if driver else None
    table = find_table(text)
    if table is not None:
        vendor = fixed_vendor or ("hygon" if table.index_header in ("DCU", "HCU") else "amd")
        result.samples = [smikeys.row_sample(tool, vendor, table.index_header, row,
                                             result.warnings) for row in table.rows]
    if fixed_vendor is None and re.search(r"^\s*[DH]CU\[\d+\]", text, re.MULTILINE):
        fixed_vendor = "hygon"
    line_samples = [
        smikeys.card_sample(tool, _vendor(fixed_vendor, raw), index, dict(raw), result.warnings)
        for index, raw in device_lines(text).items()
    ]
    result.samples = smikeys.merge(result.samples, line_samples)
    if not result.samples and result.version is None:
        result.warnings.append(f"{tool}: no device table or per-device lines found in text output")
    return result


_EARLY_JSON = re.compile(r"^\s*\{", re.MULTILINE)


def sniff(tool: str, fixed_vendor: str | None, text: str) -> ParseResult:
    """Pick JSON, CSV or text by the first non-blank character / header. A ``{`` opening one
    of the first lines (after a warning such as ``WARNING: ... low-power state``) means JSON
    too, when the lenient JSON parse accepts it."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return parse_json(tool, fixed_vendor, text)
    if stripped.startswith("device,"):
        return parse_csv(tool, fixed_vendor, text)
    if _EARLY_JSON.search("\n".join(stripped.splitlines()[:5])):
        try:
            return parse_json(tool, fixed_vendor, text)
        except ParseError:
            pass
    return parse_text(tool, fixed_vendor, text)


def make_spec(
    *,
    name: str,
    vendor: str,
    fixed_vendor: str | None,
    binaries: tuple[str, ...],
    search_dirs: tuple[str, ...],
    json_args: tuple[str, ...],
    json_args_reduced: tuple[str, ...],
    version_args: tuple[str, ...],
    version_pattern: str,
) -> ToolSpec:
    """The ToolSpec of one member of the rocm-smi family (hy-smi, rocm-smi): the same three
    parsers bound to the tool's name and vendor rule (``fixed_vendor`` None: decided per output),
    the default table as the text fallback, and a version taken from ``version_pattern``'s
    first group."""
    version_re = re.compile(version_pattern, re.IGNORECASE)

    def parse_version(text: str) -> str | None:
        match = version_re.search(text)
        return match.group(1) if match else None

    return ToolSpec(
        name=name,
        vendor=vendor,
        binaries=binaries,
        search_dirs=search_dirs,
        json_args=json_args,
        json_args_reduced=json_args_reduced,
        text_args=(),
        version_args=version_args,
        parse_json=derived(functools.partial(parse_json, name, fixed_vendor)),
        parse_text=derived(functools.partial(parse_text, name, fixed_vendor)),
        parse=derived(functools.partial(sniff, name, fixed_vendor)),
        parse_version=parse_version,
    )
