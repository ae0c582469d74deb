"""People, their contact methods and notification rules (config, pure decisions, runner)."""
