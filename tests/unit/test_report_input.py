"""Bad input to ``tokenswarm report``: one line on stderr naming the problem, exit status 2."""

from __future__ import annotations

import json

import pytest
from report_data import Stage, build_run, make_report

from tokenswarm.cli import main


def _error(capsys, *argv: str) -> str:
    assert main(["report", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tokenswarm: error: ") and err.count("\n") == 1, err
    return err


def _summary_case(tmp_path, name: str) -> str:
    run = build_run(tmp_path, "r", [Stage("medium", 4, 100.0)])
    path = run / "summary.json"
    summary = json.loads(path.read_text())
    if name == "not json":
        path.write_text('{"schema": "tokenswarm.summary/2", ')
    elif name == "unknown schema":
        path.write_text(json.dumps({**summary, "schema": "tokenswarm.summary/9"}))
    elif name == "no schema":
        path.write_text(json.dumps([1, 2]))
    elif name == "stage lacks throughput":
        del summary["stages"][0]["throughput"]
        path.write_text(json.dumps(summary))
    elif name == "no stages":
        path.write_text(json.dumps({**summary, "stages": []}))
    return str(run)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not json", "summary.json is not valid JSON"),
        ("unknown schema", "unknown schema 'tokenswarm.summary/9'"),
        ("no schema", "summary.json is malformed: not a JSON object"),
        ("stage lacks throughput", "summary.json is malformed: KeyError 'throughput'"),
        ("no stages", "summary.json has no stages"),
    ],
)
def test_bad_summaries(tmp_path, capsys, case, message):
    assert message in _error(capsys, _summary_case(tmp_path, case))


def test_empty_missing_and_non_results_dirs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert f"{tmp_path / 'empty'} is empty" in _error(capsys, str(tmp_path / "empty"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    assert "has no summary.json" in _error(capsys, str(tmp_path / "other"))
    assert "is not a directory" in _error(capsys, str(tmp_path / "nope"))


def test_bad_slo_output_path_and_repeated_run(tmp_path, capsys):
    run = str(build_run(tmp_path, "r", [Stage("medium", 4, 100.0)]))
    assert "hold the same run id 'r'" in _error(capsys, run, run)
    assert "--slo: unknown key 'ttft'" in _error(capsys, run, "--slo", "ttft=5")
    assert "is not a directory" in _error(capsys, run, "-o", str(tmp_path / "no" / "r.html"))


def test_stages_cut_short_are_named(tmp_path):
    run = build_run(
        tmp_path, "r", [Stage("medium", 1, 100.0), Stage("medium", 2, 50.0, complete=False)]
    )
    _, md = make_report(tmp_path / "r.html", run)
    assert "Cut short (stopped early or workers lost): r medium@2." in md
    _, md = make_report(tmp_path / "r2.html", build_run(tmp_path, "ok", [Stage("m", 1, 1.0)]))
    assert "Cut short" not in md


def test_schema_1_run_reports_as_one_stage(tmp_path):
    """A results dir of `tokenswarm run` before stages existed (schema 1) still reports."""
    run = build_run(tmp_path, "r", [Stage("medium", 16, 2064.4)])
    stage = json.loads((run / "summary.json").read_text())["stages"][0]
    v1 = {
        "schema": "tokenswarm.summary/1",
        "run_id": "old",
        "started_at": stage["window"]["start"],
        "config": {"users": 16, "input_tokens": 128, "output_tokens": 128},
        **{k: stage[k] for k in ("window", "requests", "errors", "metrics", "throughput")},
    }
    (run / "summary.json").write_text(json.dumps(v1))
    _, md = make_report(tmp_path / "r.html", run)
    assert "| old | run | run | 16 | 100 | 0 | 0.00 | 2064.40 |" in md
    # no gpu block in a schema-1 summary: computed from telemetry.jsonl beside it
    assert "| old | run | 90.00 | 300.00 | 3000.00 | 6.88 |" in md
