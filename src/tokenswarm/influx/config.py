"""Where and how the InfluxDB writer sends points: :class:`InfluxConfig`.

One config serves the three server generations (DESIGN.md section 4): the v1 ``/write?db=``
endpoint is the portable one (1.x natively, 2.x through DBRP mappings, 3.x), the v2
``/api/v2/write?org=&bucket=`` endpoint is for 2.x/3.x users who only have a bucket and a token.
``api="auto"`` lets ``GET /ping`` decide, so most users only give a URL (plus a database or a
bucket). Validation happens here, once, so that a typo is one readable line at start-up rather
than a writer that silently drops every batch later.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tokenswarm.errors import UserError

APIS = ("auto", "v1", "v2")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class InfluxConfig:
    """Connection, batching and retry settings of one :class:`~.writer.InfluxWriter`.

    Defaults come from measurements (INFLUX-GRAFANA-NOTES section 5.4): batches of 5 000 lines
    are at the throughput knee, one flush a second keeps dashboards live, and the buffer bound
    (100 000 lines, ~20 MB) rides out a ~20 s InfluxDB outage at 5 k points/s without letting a
    dead server eat the load generator's memory.
    """

    url: str
    database: str = "tokenswarm"
    org: str = ""
    bucket: str = ""
    token: str = ""
    username: str = ""
    password: str = ""
    api: str = "auto"
    batch_size: int = 5000
    flush_interval_s: float = 1.0
    max_buffer_points: int = 100_000
    timeout_s: float = 5.0
    max_backoff_s: float = 30.0
    create_database: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"InfluxDB url must look like http://host:8086, got {self.url!r}")
        if self.api not in APIS:
            raise UserError(f"InfluxDB api must be one of {', '.join(APIS)}, got {self.api!r}")
        if self.api == "v2" and not self.bucket:
            raise UserError("InfluxDB api v2 needs a bucket (and usually org and token)")
        if self.api == "v1" and not self.database:
            raise UserError("InfluxDB api v1 needs a database")
        if bool(self.username) != bool(self.password):
            raise UserError("InfluxDB username and password must be given together")
        for name in ("batch_size", "max_buffer_points"):
            if getattr(self, name) < 1:
                raise UserError(f"InfluxDB {name} must be >= 1, got {getattr(self, name)}")
        for name in ("flush_interval_s", "timeout_s", "max_backoff_s"):
            if not getattr(self, name) > 0:
                raise UserError(f"InfluxDB {name} must be > 0, got {getattr(self, name)}")

    @property
    def base_url(self) -> str:
        """The URL without a trailing slash (a path prefix behind a proxy is kept)."""
        return self.url.rstrip("/")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> InfluxConfig:
        """Build from a mapping (YAML profile, CLI options); strings are converted to the field
        types so that environment variables and YAML go through the same checks."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise UserError(
                f"unknown InfluxDB setting(s): {', '.join(unknown)} "
                f"(known: {', '.join(fields)})"
            )
        if not values.get("url"):
            raise UserError("InfluxDB url is required (e.g. http://127.0.0.1:8086)")
        kwargs = {name: _convert(name, fields[name].type, value) for name, value in values.items()}
        return cls(**kwargs)

    @classmethod
    def from_env(
        cls, prefix: str = "TOKENSWARM_INFLUX_", environ: Mapping[str, str] | None = None
    ) -> InfluxConfig:
        """Build from ``<prefix><FIELD>`` variables (``TOKENSWARM_INFLUX_URL``, ``..._TOKEN``):
        how Locust workers on other hosts get the settings without a profile file."""
        env = os.environ if environ is None else environ
        names = [f.name for f in dataclasses.fields(cls)]
        values = {n: env[prefix + n.upper()] for n in names if prefix + n.upper() in env}
        if not values.get("url"):
            raise UserError(f"{prefix}URL is not set (e.g. http://127.0.0.1:8086)")
        return cls.from_mapping(values)


def _convert(name: str, type_name: Any, value: Any) -> Any:
    """``value`` as the field's type (annotations are strings under postponed evaluation)."""
    kind = str(type_name)
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, (float, bool)):
                raise ValueError(value)
            return int(str(value).strip().replace("_", ""))
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
    except ValueError:
        raise UserError(f"InfluxDB {name} must be a {kind}, got {value!r}") from None
    if not isinstance(value, str):
        raise UserError(f"InfluxDB {name} must be a string, got {value!r}")
    # Secrets are taken verbatim; only the URL tolerates stray whitespace (copy-paste).
    return value.strip() if name == "url" else value
