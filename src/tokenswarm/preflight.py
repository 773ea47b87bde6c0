"""Checks the target before any load: reachable, OpenAI-compatible, serving the model.

Every failure is a :class:`UserError` with one line that says what is wrong and what to do,
so a typo in ``--host`` or ``--model`` never becomes a run full of connection errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import requests

from tokenswarm.errors import UserError


@dataclass(frozen=True)
class Target:
    """What ``GET /v1/models`` told us about the server."""

    base_url: str
    model: str
    owned_by: str
    models: tuple[str, ...]


def normalize_base_url(url: str) -> str:
    """``http://h:8000/v1/`` -> ``http://h:8000``: tokenswarm appends ``/v1/...`` itself."""
    url = url.strip().rstrip("/")
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as exc:
        raise UserError(f"invalid host URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UserError(f"invalid host URL {url!r} (expected e.g. http://127.0.0.1:8000)")
    return url.removesuffix("/v1")


def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def check_target(
    base_url: str, model: str = "", api_key: str = "", timeout_s: float = 10.0
) -> Target:
    """Query ``/v1/models``; return the model to use (the given one, or the first served)."""
    base_url = normalize_base_url(base_url)
    url = f"{base_url}/v1/models"
    try:
        resp = requests.get(url, headers=auth_headers(api_key), timeout=timeout_s)
    except requests.exceptions.Timeout:
        raise UserError(
            f"{base_url} did not answer GET /v1/models within {timeout_s:g} s"
        ) from None
    except requests.exceptions.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else "unreachable"
        raise UserError(
            f"cannot reach {base_url}: {reason} (is the server running? check --host)"
        ) from None
    if resp.status_code in (401, 403):
        raise UserError(
            f"{base_url} rejected the request (HTTP {resp.status_code}): check --api-key"
        )
    try:
        payload = resp.json() if resp.ok else None
    except ValueError:
        payload = None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise UserError(
            f"{base_url} does not look like an OpenAI-compatible server: GET /v1/models "
            f"returned HTTP {resp.status_code} without a model list"
        )
    served = {
        m["id"]: str(m.get("owned_by") or "")
        for m in data
        if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]
    }
    if not served:
        raise UserError(
            f"{base_url} serves no models (GET /v1/models listed no model with an id)"
        )
    if model and model not in served:
        raise UserError(
            f"model {model!r} is not served by {base_url} (available: {', '.join(sorted(served))})"
        )
    chosen = model or next(iter(served))
    return Target(base_url, chosen, served[chosen], tuple(served))
