"""A small headless-Chromium harness over the DevTools protocol (no Playwright, no download).

Uses the system ``chromium`` (``$CHROMIUM`` overrides the path) started with
``--remote-debugging-port=0``; the port it picked is read from ``DevToolsActivePort`` in a
throw-away profile directory. Each :class:`Page` is one tab with its own DevTools websocket
(``websocket-client``, synchronous): commands are sent and their answers awaited on the same
thread, and events that arrive in between are recorded (console errors, page loads).

    with Browser() as browser:
        page = browser.open(url)
        page.wait_for("document.querySelector('button') !== null")
        page.click("button")
        page.screenshot("shot.png")
        assert not page.console_errors

Chromium runs in its own process group, which is killed (SIGTERM, then SIGKILL) on exit, so
its zygote and renderer children never outlive a test.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

LAUNCH_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 30.0
WINDOW = (1400, 1000)
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in containers and CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
    "--remote-debugging-port=0",
    "about:blank",
)


class BrowserError(RuntimeError):
    """Chromium did not start, a command failed, or page JavaScript threw."""


def chromium_path() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        path = candidate and shutil.which(candidate)
        if path:
            return path
    raise BrowserError("no chromium on PATH (Debian: apt-get install chromium; or set $CHROMIUM)")


class Page:
    """One browser tab driven through its DevTools websocket."""

    def __init__(self, ws_url: str) -> None:
        self._ws = websocket.create_connection(ws_url, timeout=COMMAND_TIMEOUT_S)
        self._ids = itertools.count(1)
        self._errors: list[str] = []
        self._loads = 0
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    # -- protocol -------------------------------------------------------------------------

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a DevTools command and return its result (events meanwhile are recorded)."""
        msg_id = next(self._ids)
        self._ws.settimeout(COMMAND_TIMEOUT_S)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error'].get('message')}")
                return dict(msg.get("result", {}))
            self._on_event(msg)

    def _pump(self) -> None:
        """Record events that already arrived, without waiting for more."""
        self._ws.settimeout(0.001)
        try:
            while True:
                self._on_event(json.loads(self._ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self._ws.settimeout(COMMAND_TIMEOUT_S)

    def _on_event(self, msg: dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Page.loadEventFired":
            self._loads += 1
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            self._errors.append(" ".join(_remote_text(a) for a in args))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception") or {}
            self._errors.append(str(exc.get("description") or details.get("text", "exception")))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error" and entry.get("source") != "console-api":
                url = entry.get("url", "")
                self._errors.append(f"{entry.get('text', '')} {url}".strip())

    # -- the API tests use ---------------------------------------------------------------

    @property
    def console_errors(self) -> list[str]:
        """console.error/assert messages, uncaught exceptions and failed resource loads."""
        self._pump()
        return list(self._errors)

    def goto(self, url: str, timeout: float = COMMAND_TIMEOUT_S) -> None:
        """Navigate and wait for the load event."""
        loads = self._loads
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url}: {result['errorText']}")
        deadline = time.monotonic() + timeout
        self._ws.settimeout(timeout)
        while self._loads == loads:
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not finish loading in {timeout:g} s")
            self._on_event(json.loads(self._ws.recv()))
        self._ws.settimeout(COMMAND_TIMEOUT_S)

    def evaluate(self, js: str) -> Any:
        """Value of a JavaScript expression (promises awaited; must be JSON-serialisable)."""
        result = self.send("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            exc = details.get("exception") or {}
            raise BrowserError(f"{js[:80]!r} threw: {exc.get('description') or details}")
        return result.get("result", {}).get("value")

    def wait_for(self, js_predicate: str, timeout: float = 10) -> Any:
        """Poll a JavaScript expression until it is truthy; return that value.

        A DOM node counts as ``True``. Raises TimeoutError with the last value seen (or the
        last exception) on timeout.
        """
        # a DOM node is truthy but cannot be returned by value: report it as true
        js = f"(v => v instanceof Node ? true : v)({js_predicate.strip().rstrip(';')})"
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.evaluate(js)
                if last:
                    return last
            except BrowserError as exc:
                last = exc
            if time.monotonic() > deadline:
                raise TimeoutError(f"after {timeout:g} s, {js_predicate[:200]!r} is still {last!r}")
            time.sleep(0.1)

    def click(self, selector: str) -> None:
        """A real mouse click (press + release) at the centre of the first match, once it is
        visible and has stopped moving (no click lands mid-animation on the wrong element)."""
        box = self.evaluate(
            f"""(async () => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) throw new Error('no element matches ' + {json.dumps(selector)});
                el.scrollIntoView({{block: 'center', inline: 'center'}});
                const frame = () => new Promise(r => requestAnimationFrame(r));
                const key = () => JSON.stringify(el.getBoundingClientRect());
                let last = key(), still = 0;
                for (let i = 0; i < 120 && still < 3; i++) {{
                    await frame();
                    const now = key();
                    still = now === last ? still + 1 : 0;
                    last = now;
                }}
                const r = el.getBoundingClientRect();
                return {{x: r.x + r.width / 2, y: r.y + r.height / 2, w: r.width, h: r.height}};
            }})()"""
        )
        if not box["w"] or not box["h"]:
            raise BrowserError(f"{selector!r} is not visible")
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=1,
            )

    def fill(self, selector: str, text: str) -> None:
        """Replace an input's text as typing would (React-controlled inputs see it)."""
        self.click(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        self.send("Input.insertText", text=text)

    def screenshot(
        self, path: str | Path, clip: tuple[float, float, float, float] | None = None
    ) -> Path:
        """A PNG of the viewport, or of the ``(x, y, width, height)`` part of the page."""
        params: dict[str, Any] = {"format": "png"}
        if clip is not None:
            x, y, width, height = clip
            params["clip"] = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
        data = self.send("Page.captureScreenshot", **params)["data"]
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        self._ws.close()


class Browser:
    """A headless Chromium process with a throw-away profile; a context manager."""

    def __init__(self) -> None:
        self._profile = tempfile.mkdtemp(prefix="tokenswarm-chromium-")
        self._pages: list[Page] = []
        # a file, not a pipe: chromium never blocks on a full pipe; closed in close()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [chromium_path(), f"--user-data-dir={self._profile}", *FLAGS],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole
        )
        try:
            self.port = self._read_port()
        except BaseException:
            self.close()
            raise

    def _read_port(self) -> int:
        active = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + LAUNCH_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                raise BrowserError(f"chromium exited with {self._proc.returncode}: {err[-2000:]}")
            lines = active.read_text().splitlines() if active.is_file() else []
            if len(lines) >= 2:
                return int(lines[0])
            time.sleep(0.05)
        raise BrowserError(f"chromium wrote no DevToolsActivePort in {LAUNCH_TIMEOUT_S:g} s")

    def new_page(self) -> Page:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(req, timeout=COMMAND_TIMEOUT_S) as resp:
            target = json.load(resp)
        page = Page(target["webSocketDebuggerUrl"])
        self._pages.append(page)
        return page

    def open(self, url: str) -> Page:
        """A new tab showing ``url`` (its load event has fired)."""
        page = self.new_page()
        page.goto(url)
        return page

    def close(self) -> None:
        for page in self._pages:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                page.close()
        self._pages.clear()
        if self._proc.poll() is None:
            _kill_group(self._proc, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        _kill_group(self._proc, signal.SIGKILL)  # renderer/zygote children left behind
        self._proc.wait()
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _remote_text(obj: dict[str, Any]) -> str:
    """A console argument (a Runtime.RemoteObject) as text."""
    if "value" in obj:
        return str(obj["value"])
    return str(obj.get("description") or obj.get("unserializableValue") or obj.get("type"))
