"""Digests: low-urgency alerts gathered per window into one email for whoever is on call."""
