"""twinql ingest package."""
