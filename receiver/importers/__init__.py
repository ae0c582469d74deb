"""Importers: people, schedules, escalation policies and overrides from other on-call tools."""
