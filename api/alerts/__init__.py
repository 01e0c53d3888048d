"""api.alerts."""
