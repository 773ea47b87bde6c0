"""Options and start-up check of the load side's InfluxDB sink (see influx_sink.py).

Registered on Locust's parser like tokenswarm's other options (env ``TOKENSWARM_INFLUX_*``,
config files, command line); kept out of the web UI form since they must be known before a
run starts. The settings become one :class:`~tokenswarm.influx.config.InfluxConfig`, the same
one the telemetry agent uses, so both sides validate and connect identically.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from locust import events

from tokenswarm.influx.transport import InfluxHttp
from tokenswarm.influx.writer import InfluxConfig, InfluxError
from tokenswarm.telemetry.sinks import unreachable

log = logging.getLogger("tokenswarm")


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    def arg(flag: str, **kwargs: Any) -> None:
        env = "TOKENSWARM_" + flag.lstrip("-").replace("-", "_").upper()
        parser.add_argument(flag, env_var=env, include_in_web_ui=False, **kwargs)

    arg(
        "--influx-url",
        default="",
        help="write load points to this InfluxDB (e.g. http://127.0.0.1:8086); off when empty",
    )
    arg("--influx-database", default="tokenswarm", help="v1 database (1.x; 2.x via DBRP; 3.x)")
    arg("--influx-org", default="", help="v2 organisation")
    arg("--influx-bucket", default="", help="v2 bucket (with a token: the /api/v2/write path)")
    arg("--influx-token", default="", is_secret=True, help="2.x/3.x API token")
    arg(
        "--influx-api",
        default="auto",
        choices=("auto", "v1", "v2"),
        help="write endpoint: v1 /write?db=, v2 /api/v2/write, auto: by the server's version",
    )
    arg("--influx-username", default="", help="1.x user")
    arg("--influx-password", default="", is_secret=True, help="1.x password")
    arg(
        "--influx-create-database",
        action="store_true",
        default=False,
        help="create the v1 database when it does not exist",
    )
    arg(
        "--influx-required",
        action="store_true",
        default=False,
        help="stop (exit 2) instead of warning when InfluxDB is unreachable at start",
    )


def influx_config(options: Any) -> InfluxConfig | None:
    """The writer config from Locust's parsed options; None when ``--influx-url`` is empty."""
    url = getattr(options, "influx_url", "") or ""
    if not url:
        return None
    names = ("database", "org", "bucket", "token", "username", "password", "api", "create_database")
    values = {n: getattr(options, f"influx_{n}", None) for n in names}
    return InfluxConfig.from_mapping({"url": url, **{k: v for k, v in values.items() if v}})


def fatal(message: str) -> None:
    """One line on stderr, exit status 2 (like tokenswarm's other start-up errors)."""
    print(f"tokenswarm: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def check_server(config: InfluxConfig, required: bool) -> None:
    """Start-up check: definite errors exit 2, an unreachable server warns (or exits 2)."""
    http = InfluxHttp(config)
    try:
        version = http.check()
    except InfluxError as exc:
        if not unreachable(exc):
            fatal(str(exc))
        if required:
            fatal(f"{exc} (--influx-required)")
        log.warning(
            "tokenswarm: %s; the run goes on: points are buffered (up to %d, oldest "
            "dropped) and sent once it answers",
            exc,
            config.max_buffer_points,
        )
        return
    finally:
        http.close()
    log.info(
        "tokenswarm: load points go to InfluxDB %s (%s)",
        config.base_url,
        version or "version unknown",
    )
