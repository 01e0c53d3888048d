"""twinql analytics package."""
