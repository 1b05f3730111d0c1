"""A drain worker: one Dagster run of the import drain (`vehicle_profiles`) in this process, on the Dagster
instance in $DAGSTER_HOME, against the database and sites named in a JSON spec. Tests and benchmarks start it
as separate processes (in a network namespace of its own for a "worker host") to drain one backlog together.

usage: python -m vehicle_pipeline_tests.drain_worker SPEC_JSON
SPEC_JSON: {"db_url", "default_pace": [min, max], "pace": {source: [min, max]}, "base_urls": {source: url},
            "resolve": {host: "address:port"}, "extra_ca_file", "allow_private_hosts": [...],
            "settings": {PipelineSettingsResource fields}, "assets": ["vehicle_profiles"], "tags": {...}}
The sites are configured as real ones are (every source at its real base URL unless `base_urls` says
otherwise, allow-lists, robots, a default pace); `resolve`, `extra_ca_file` and `allow_private_hosts` point
the client at the stand-in (see SourceSitesResource).
Prints one JSON line: {"run_id", "success", "metadata": {asset: {name: value}}}.
"""

import json
import signal
import sys

import dagster as dg

from vehicle_pipeline.defs.assets.profiles import auction_outcomes, vehicle_profiles
from vehicle_pipeline.defs.resources import PipelineSettingsResource, PostgresResource, SourceSitesResource

ASSETS = {"vehicle_profiles": vehicle_profiles, "auction_outcomes": auction_outcomes}


def resources(spec: dict) -> dict:
    return {
        "postgres": PostgresResource(database_url=spec["db_url"], pool_size=spec.get("pool_size", 6)),
        "sites": SourceSitesResource(
            base_urls_json=json.dumps(spec.get("base_urls") or {}),
            pace_min_seconds=spec.get("default_pace", [2.0, 5.0])[0],
            pace_max_seconds=spec.get("default_pace", [2.0, 5.0])[1],
            pace_per_source_json=json.dumps(spec.get("pace") or {}),
            resolve_json=json.dumps(spec.get("resolve") or {}), extra_ca_file=spec.get("extra_ca_file"),
            allow_private_hosts=spec.get("allow_private_hosts") or []),
        "settings": PipelineSettingsResource(**spec.get("settings", {})),
    }


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    spec = json.loads(sys.argv[1])
    result = dg.materialize([ASSETS[name] for name in spec.get("assets", ["vehicle_profiles"])],
                            resources=resources(spec), instance=dg.DagsterInstance.get(), raise_on_error=False,
                            tags=spec.get("tags") or None)
    metadata = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        values = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        metadata[mat.asset_key.to_user_string()] = {k: v for k, v in values.items() if isinstance(v, (int, float, str))}
    print(json.dumps({"run_id": result.run_id, "success": result.success, "metadata": metadata}), flush=True)


if __name__ == "__main__":
    main()
