"""Fetching pages: the polite HTTP client (`vehicle_pipeline.http`) and the rendering fetcher (`fetch.render`)
for sources whose pages are built in the browser."""
