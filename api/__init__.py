"""twinql api package."""
