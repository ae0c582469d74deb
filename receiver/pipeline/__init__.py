"""Notification pipeline: one pure module per step (matchers, routing, dedup decision)."""
