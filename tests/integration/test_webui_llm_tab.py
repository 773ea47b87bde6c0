"""The LLM tab in a real browser: Locust master + 1 worker with the web UI, headless Chromium.

The simulator batches: every engine step lasts ``BASE_MS + PER_SEQ_MS * running sequences`` and
gives each running sequence one token (prefill made negligible), so the truth is known:

- 1 user: the engine is idle whenever the request arrives, so TTFT = ITL = one step of a batch
  of one = 22 ms;
- 8 users: ITL = a step with 7-8 sequences = 34-36 ms; TTFT = the rest of the step under way
  plus one step, 36-72 ms.

The test starts the run through the start form (a bad value first: refused in the form), reads
the LLM tab's rows as the user sees them, raises the users through Edit (a new stage), and
checks at the simulator that the edited output-token count is what the workers asked for.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import requests
from browser import Browser, Page
from helpers import REPO, free_port, locust_cmd, wait_for

pytestmark = pytest.mark.integration

LOCUSTFILE = str(REPO / "src" / "tokenswarm" / "loadgen" / "locustfile.py")
BASE_MS, PER_SEQ_MS = 20.0, 2.0
OUTPUT_TOKENS = 16  # Locust's default in the form is 128
SCREENSHOT = REPO / "test-artifacts" / "webui-llm-tab.png"

ROWS_JS = """Array.from(document.querySelectorAll('main table tbody tr')).map(tr =>
  Array.from(tr.querySelectorAll('td')).map(td => td.innerText))"""
HEADERS_JS = "Array.from(document.querySelectorAll('main table thead th')).map(th => th.innerText)"


def by_text(page: Page, selector: str, text: str) -> str:
    """A unique selector for the element matching ``selector`` whose text is ``text``."""
    mark = re.sub(r"\W", "-", text.lower())
    page.wait_for(
        f"""(() => {{ const el = Array.from(document.querySelectorAll({selector!r}))
            .find(e => e.textContent.trim() === {text!r});
            if (el) el.dataset.test = {mark!r}; return !!el; }})()"""
    )
    return f"[data-test={mark}]"


def llm_rows(page: Page) -> list[dict[str, str]]:
    headers = page.evaluate(HEADERS_JS)
    return [dict(zip(headers, cells, strict=True)) for cells in page.evaluate(ROWS_JS)]


def p50(cell: str) -> float:
    """``'22.8 / 23.0 / 24.2'`` (p50 / p90 / p99) -> 22.8."""
    return float(cell.split(" / ")[0])


def wait_rows(page: Page, stage: int, requests_min: int, timeout: float) -> list[dict[str, str]]:
    """The LLM table once stage ``stage`` shows at least ``requests_min`` measured requests."""

    def ready() -> list[dict[str, str]] | None:
        rows = llm_rows(page)
        ok = len(rows) > stage and int(rows[stage]["# Requests"]) >= requests_min
        return rows if ok else None

    return wait_for(ready, timeout, f"{requests_min} requests in stage {stage} of the LLM tab")


@pytest.fixture
def ui(sim_factory, tmp_path):
    """(simulator, web UI URL) of a master + 1 worker Locust with the web UI."""
    sim = sim_factory(
        "--base-ms", str(BASE_MS), "--per-seq-ms", str(PER_SEQ_MS), "--prefill-tps", "1e9"
    )
    web, master_port = free_port(), free_port()
    common = ("--stop-timeout", "10", "--input-tokens", "32")
    logs = [(tmp_path / name).open("w") for name in ("master.log", "worker.log")]
    procs = [
        subprocess.Popen(
            locust_cmd(
                LOCUSTFILE,
                sim.url,
                "--master",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(master_port),
                "--web-host",
                "127.0.0.1",
                "--web-port",
                str(web),
                "--results-dir",
                str(tmp_path / "results"),
                *common,
            ),
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            locust_cmd(LOCUSTFILE, sim.url, "--worker", "--master-port", str(master_port), *common),
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        ),
    ]
    url = f"http://127.0.0.1:{web}"

    def one_worker() -> bool:
        try:
            return requests.get(url + "/worker-count", timeout=1).json()["worker_count"] == 1
        except requests.ConnectionError:
            return False

    try:
        wait_for(one_worker, 30, "the web UI with one worker")
        yield sim, url
    finally:
        for proc in procs:
            proc.terminate()
        for proc, log in zip(procs, logs, strict=True):
            proc.wait(timeout=30)
            log.close()


def test_llm_tab_shows_live_ttft_itl_per_stage_and_form_options_reach_workers(ui):
    sim, url = ui
    with Browser() as browser:
        page = browser.open(url + "/")
        page.wait_for("document.querySelector('form input[name=userCount]')")
        page.fill("input[name=userCount]", "1")
        page.fill("input[name=spawnRate]", "10")
        page.click(by_text(page, "[aria-expanded]", "Custom parameters"))
        page.wait_for("document.querySelector('input[name=outputTokens]').offsetHeight > 0")
        for name in ("engine", "model", "scenario", "inputTokens", "outputTokens", "dataset"):
            assert page.evaluate(f"!!document.querySelector('form [name={name}]')"), name

        # a bad value is refused in the form with tokenswarm's one-line message
        page.fill("input[name=outputTokens]", "0")
        page.click("form button[type=submit]")
        page.wait_for("document.body.innerText.includes('--output-tokens must be at least 1')")
        assert requests.get(url + "/tokenswarm/summary.json", timeout=5).json()["summary"] is None

        page.fill("input[name=outputTokens]", str(OUTPUT_TOKENS))
        page.click("form button[type=submit]")
        page.click(by_text(page, "[role=tab]", "LLM"))

        # stage 0, one user: TTFT = ITL = one step of a batch of one
        rows = wait_rows(page, 0, 10, 30)
        one = BASE_MS + PER_SEQ_MS
        assert rows[0]["Stage"] == "0 run"
        assert abs(p50(rows[0]["TTFT ms p50 / p90 / p99"]) - one) <= 3.0, rows[0]
        assert abs(p50(rows[0]["ITL ms p50 / p90 / p99"]) - one) <= 2.0, rows[0]
        assert rows[0]["In flight"] == "1" and rows[0]["# Fails"] == "0", rows[0]

        # Edit: 8 users -> stage 1; bigger batches make every step (ITL) and TTFT longer
        page.click(by_text(page, "button", "Edit"))
        page.wait_for("document.querySelector('.MuiModal-root input[name=userCount]')")
        page.fill(".MuiModal-root input[name=userCount]", "8")
        page.fill(".MuiModal-root input[name=spawnRate]", "100")
        page.click(".MuiModal-root button[type=submit]")
        rows = wait_rows(page, 1, 40, 30)
        stage1 = rows[1]
        assert stage1["Stage"] == "1 run@8" and stage1["Users"] == "8", stage1
        assert rows[0]["State"] == "done" and stage1["State"] == "measuring", rows
        itl8 = p50(stage1["ITL ms p50 / p90 / p99"])
        assert BASE_MS + 7 * PER_SEQ_MS - 1 <= itl8 <= BASE_MS + 8 * PER_SEQ_MS + 2, stage1
        ttft8 = p50(stage1["TTFT ms p50 / p90 / p99"])
        assert BASE_MS + 8 * PER_SEQ_MS - 1 <= ttft8 <= 2 * (BASE_MS + 8 * PER_SEQ_MS) + 3

        # the endpoint carries the same numbers, and the charts have drawn both stages
        doc = requests.get(url + "/tokenswarm/summary.json", timeout=5).json()
        assert doc["schema"] == "tokenswarm.live/1" and doc["user_count"] == 8
        blocks = doc["summary"]["stages"]
        assert [b["name"] for b in blocks] == ["run", "run@8"]
        assert blocks[1]["metrics"]["itl_ms"]["p50"] == pytest.approx(itl8, abs=1.0)
        assert blocks[0]["output_tokens"] == OUTPUT_TOKENS
        page.wait_for(
            "document.querySelector('#tokenswarm-charts [data-chart=itl] polyline')"
            ".getAttribute('data-points') >= 4",
            15,
        )
        assert page.evaluate("document.querySelectorAll('#tokenswarm-charts svg').length") == 3
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(SCREENSHOT)

        # Reset stats: the same load measured afresh, as stage 2
        page.click(by_text(page, "button", "Reset"))
        page.wait_for(
            "Array.from(document.querySelectorAll('main table tbody tr td:first-child'))"
            ".map(td => td.innerText).join('|') === '0 run|1 run@8|2 run@8'"
        )

        # Stop: users finish their requests (--stop-timeout); every one asked for 16 tokens
        page.click(by_text(page, "button", "Stop"))

        def stopped() -> bool:
            state = requests.get(url + "/stats/requests", timeout=5).json()["state"]
            return state == "stopped" and sim.stats()["running"] + sim.stats()["waiting"] == 0

        wait_for(stopped, 20, "the test to stop and the simulator to go idle")
        stats = sim.stats()
        assert stats["requests_aborted"] == 0, stats
        assert stats["requests_finished"] > 50, stats
        assert stats["generation_tokens"] == OUTPUT_TOKENS * stats["requests_finished"], stats
        assert page.console_errors == []
