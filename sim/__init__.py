"""twinql sim package."""
