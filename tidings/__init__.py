"""tidings."""
