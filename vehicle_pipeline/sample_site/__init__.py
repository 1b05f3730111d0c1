"""The sample site: pages shaped like the real sources, served at the real sites' host names over HTTPS on
loopback (a throwaway CA; see front.py and sites.py), deterministic for a seed, with its ground truth at
GET /_truth on a plain-HTTP control origin and faults on demand. Imports neither Dagster nor psycopg."""

from vehicle_pipeline.sample_site.faults import FaultSpecError, parse_fault_spec
from vehicle_pipeline.sample_site.server import SampleSite, serve_forever
from vehicle_pipeline.sample_site.world import DEFAULT_CLOCK, World, build_world

__all__ = ["DEFAULT_CLOCK", "FaultSpecError", "SampleSite", "World", "build_world", "parse_fault_spec", "serve_forever"]
