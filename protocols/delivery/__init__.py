"""Outbound delivery: the queue runner, DSN bounces, SRS and DKIM signing."""
