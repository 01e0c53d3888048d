"""GraphQL of readings: history windows and buckets, latest values, summaries, rejected
readings, the ingest mutation, and ``POST /ingest``."""
