"""The one webhook sender: alerts (operations) and saved-search matches post through `post_webhook`.

A Slack-style incoming webhook takes a JSON object with a `text` field; extra fields ride along for receivers
that read them. The URL is a secret, so it comes only from the environment (`VEHICLE_PIPELINE_ALERT_WEBHOOK`).
Posting is best effort and never raises: a webhook that is down must not fail the run that noticed something;
the caller keeps its "already posted" state only when this returns True, so a failed post is tried again.

This module imports neither Dagster nor psycopg.
"""

from __future__ import annotations

import logging
import os

import httpx

log = logging.getLogger(__name__)

WEBHOOK_ENV = "VEHICLE_PIPELINE_ALERT_WEBHOOK"


def webhook_url() -> str | None:
    return os.environ.get(WEBHOOK_ENV) or None


def post_webhook(payload: dict, url: str | None = None, *, timeout: float = 10.0) -> bool:
    """POST `payload` as JSON to `url` (default: the configured webhook). True on a 2xx; False when no webhook
    is configured or the post failed (logged with the reason)."""
    url = url or webhook_url()
    if not url:
        return False
    try:
        response = httpx.post(url, json=payload, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        log.warning("webhook post failed: %s: %s", type(exc).__name__, exc)
        return False
    if not response.is_success:
        log.warning("webhook answered http %s", response.status_code)
        return False
    return True


__all__ = ["WEBHOOK_ENV", "post_webhook", "webhook_url"]
