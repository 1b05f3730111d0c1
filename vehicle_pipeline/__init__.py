"""vehicle_pipeline: collector-vehicle profiles and auction outcomes, kept current by Dagster."""

__version__ = "0.1.0"
