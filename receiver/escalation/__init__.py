"""Escalation policies: a ladder of steps for a firing alert nobody acknowledged."""
