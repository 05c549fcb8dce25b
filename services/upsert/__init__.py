"""Upsert resolution: every command through the one resolver; results keyed by request id."""
