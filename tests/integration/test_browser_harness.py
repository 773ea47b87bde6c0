"""The headless-Chromium harness (tests/browser.py) the web UI tests drive the UI with."""

from __future__ import annotations

import os

import pytest
from browser import Browser, BrowserError
from helpers import wait_for

pytestmark = pytest.mark.integration

PAGE = (
    "data:text/html,<title>t</title>"
    "<button id=go onclick=\"document.title='clicked:'+document.getElementById('n').value\">"
    "go</button><input id=n value=old>"
    "<script>console.error('boom', 42); setTimeout(() => { throw new Error('late') }, 0);"
    "</script>"
)


def test_open_evaluate_click_fill_screenshot_and_console_errors(tmp_path):
    with Browser() as browser:
        page = browser.open(PAGE)
        assert page.evaluate("Promise.resolve({a: [1, 2]})") == {"a": [1, 2]}
        page.fill("#n", "new")
        page.click("#go")
        assert page.wait_for("document.title.startsWith('clicked') && document.title") == (
            "clicked:new"
        )
        with pytest.raises(TimeoutError, match="still False"):
            page.wait_for("1 > 2", timeout=0.3)
        with pytest.raises(BrowserError, match="no element"):
            page.click("#absent")
        shot = page.screenshot(tmp_path / "shot.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        errors = wait_for(
            lambda: len(page.console_errors) >= 2 and page.console_errors, 10, "two console errors"
        )
        assert "boom 42" in errors
        assert any("Error: late" in e for e in errors)
        group = browser._proc.pid
    # the whole process group (zygote, renderers) is gone once the browser is closed

    def gone() -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, 10, "chromium's process group to exit")
