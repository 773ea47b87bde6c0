"""tokenswarm in Locust's web UI: an LLM tab, live charts, a JSON endpoint, checked options.

Importing this module registers an ``init`` listener; it acts only where Locust serves its web
UI (the master, or a local run without ``--headless``). Nothing of Locust's UI is forked:

- **LLM tab**: an ``extended_tabs``/``extended_tables`` entry; its rows (one per stage, see
  webui_tab) ride in the ``/stats/requests`` JSON the UI already polls every 2 s;
- **charts**: a small script (``webui/llm-tab.js``, served from ``/tokenswarm/assets/``) added to
  the UI's page draws tokens/s and TTFT/ITL p50/p99 over time under the LLM tab's table;
- ``/tokenswarm/summary.json``: the live document (webui_live; schema in the README);
- the start form's LLM options (engine, model, scenario, input/output tokens, dataset, ...) are
  Locust custom arguments, so Locust shows them under "Custom parameters" and sends them to the
  workers with the spawn message; a bad value or an unreachable target is refused with a
  one-line message in the form instead of failing on the workers;
- stage boundaries when the user count is edited or stats are reset (webui_stages).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from flask import Response, g, jsonify, request, send_from_directory
from locust import events
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from tokenswarm.errors import UserError
from tokenswarm.loadgen import webui_stages
from tokenswarm.loadgen.options import LoadOptions, check_inputs
from tokenswarm.loadgen.runtime import RUNTIME
from tokenswarm.loadgen.webui_live import LiveView
from tokenswarm.loadgen.webui_tab import COLUMNS, TAB_KEY, stage_rows
from tokenswarm.preflight import check_target

ASSETS = Path(__file__).with_name("webui")
SCRIPT = "llm-tab.js"


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    view = LiveView(environment)
    RUNTIME.delta_listeners.append(view.on_delta)
    environment.events.reset_stats.add_listener(
        lambda **_: webui_stages.on_reset_stats(environment)
    )
    web_ui.template_args["extended_tabs"] = [{"title": "LLM", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": COLUMNS}]
    base = (getattr(environment.parsed_options, "web_base_path", None) or "").rstrip("/")
    app = web_ui.app

    @app.route(f"{base}/tokenswarm/summary.json")
    @web_ui.auth_required_if_enabled
    def _summary() -> Response:
        return jsonify(view.document())

    @app.route(f"{base}/tokenswarm/assets/<path:name>")
    @web_ui.auth_required_if_enabled
    def _assets(name: str) -> Response:
        return send_from_directory(ASSETS, name, max_age=0)

    @app.before_request
    def _before() -> Response | None:
        if request.path == f"{base}/swarm" and request.method == "POST":
            if environment.runner.state in (STATE_RUNNING, STATE_SPAWNING):
                g.tokenswarm_edit = webui_stages.can_open_stage(environment)
                return None
            try:
                _check_form(environment, request.form)
            except UserError as exc:
                return jsonify({"success": False, "message": str(exc), "host": environment.host})
        return None

    @app.after_request
    def _after(response: Response) -> Response:
        if response.status_code != 200:
            return response
        if request.path == f"{base}/stats/requests":
            data = response.get_json()
            data["extended_stats"] = [{"key": TAB_KEY, "data": stage_rows(view.document())}]
            response.set_data(json.dumps(data))
        elif request.path == f"{base}/" and response.mimetype == "text/html":
            tag = f'<script src="./tokenswarm/assets/{SCRIPT}" defer></script></body>'
            response.set_data(response.get_data(as_text=True).replace("</body>", tag, 1))
        elif request.path == f"{base}/swarm" and g.get("tokenswarm_edit"):
            result = response.get_json(silent=True) or {}
            if result.get("success"):
                users = int(request.form["user_count"])
                webui_stages.on_user_count_edit(
                    environment, users, float(request.form["spawn_rate"])
                )
        return response


def _check_form(environment: Any, form: Any) -> None:
    """Refuse a start whose LLM options are invalid or whose target does not answer (the same
    checks as a headless start, on the values of the form)."""
    ns = argparse.Namespace(**vars(environment.parsed_options))
    for key, value in form.items():
        if key in LoadOptions.__dataclass_fields__ and hasattr(ns, key):
            current = getattr(ns, key)
            try:
                setattr(ns, key, type(current)(value) if current is not None else value)
            except ValueError:
                raise UserError(
                    f"{key.replace('_', '-')}: {value!r} is not a valid value"
                ) from None
    opts = LoadOptions.from_namespace(ns)
    check_inputs(opts)
    host = form.get("host") or environment.host
    if not host:
        raise UserError("no target: fill in Host (e.g. http://127.0.0.1:8000)")
    check_target(host, opts.model, opts.api_key)
