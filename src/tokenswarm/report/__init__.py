"""``tokenswarm report``: results directories -> one self-contained HTML file + a Markdown summary.

Modules, one job each: ``load`` (results dir -> pandas frames, one-line errors), ``telemetry``
(GPU/engine samples -> per-stage statistics; also used by the sweep to fill summary.json),
``slo`` (targets and verdicts), ``analysis`` (saturation, scaling efficiency), ``advice``
(tuning rules), ``plots`` (matplotlib -> inline SVG), ``document`` (the report's tables and
figures), ``html`` and ``markdown`` (rendering), ``cli`` (the subcommand). Nothing here imports
locust or gevent.
"""
