"""Heartbeats: a dead-man's switch on the alerting pipeline (Alertmanager's Watchdog)."""
