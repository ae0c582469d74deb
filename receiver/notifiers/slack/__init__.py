"""Slack: config.py (bot-token or incoming-webhook mode), api.py (the few Web API calls),
lookup.py (did an earlier attempt already post?), message.py (Block Kit), notifier.py."""
