"""HTTP handlers: webhook intake, alert reads, health, metrics."""
