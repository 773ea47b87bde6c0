"""Importing this module registers every tokenswarm listener with Locust: the core load path,
the InfluxDB sink, worker version checks and record dumps, and the web UI's LLM tab.

Each locustfile imports it once (``locustfiles/*.py``, ``loadgen/locustfile.py``), so plain
``locust -f`` and ``tokenswarm run|sweep`` get exactly the same features.
"""

from tokenswarm.loadgen import (  # noqa: F401  (imported for their listeners)
    health_listeners,  # loop lag and CPU of every load process -> summary "health"
    influx_sink,  # InfluxDB load points (--influx-url)
    listeners,  # options, preflight, stages, merged results
    version_check,  # workers refuse a master of another version
    webui,  # the LLM tab and /tokenswarm/summary.json in Locust's web UI
    worker_dump,  # --dump-records: each worker's raw records
)
