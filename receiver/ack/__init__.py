"""Acknowledgements: who took an alert, and what an ack does elsewhere (Alertmanager silences)."""
