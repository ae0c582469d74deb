"""ntfy push notifications (https://docs.ntfy.sh/publish/): config, message, notifier."""
