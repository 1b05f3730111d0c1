"""The polite HTTP client's public names, where the pipeline has always imported them from. The client lives
in `vehicle_pipeline.fetch` (one file per seam: results, config, urls, signals, lanes, robots, transport,
client); see `vehicle_pipeline.fetch.client` for what it does."""

from vehicle_pipeline.fetch.config import DEFAULT_USER_AGENT, HttpConfig, Pace, SourcePolicy
from vehicle_pipeline.fetch.client import PoliteClient
from vehicle_pipeline.fetch.results import FetchKind, FetchRequest, FetchResult, HealthReporter, PaceLedger, Reason
from vehicle_pipeline.fetch.signals import backoff_delay, detect_challenge, parse_retry_after
from vehicle_pipeline.fetch.urls import address_refusal, check_url, private_allowed

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchKind",
    "FetchRequest",
    "FetchResult",
    "HealthReporter",
    "HttpConfig",
    "Pace",
    "PaceLedger",
    "PoliteClient",
    "Reason",
    "SourcePolicy",
    "address_refusal",
    "backoff_delay",
    "check_url",
    "detect_challenge",
    "parse_retry_after",
    "private_allowed",
]
