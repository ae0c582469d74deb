"""Email over SMTP: config.py (the receiver's config), message.py (the MIME message, its
Message-IDs and threading), pool.py (the SMTP connection pool and its error verdicts),
notifier.py (the notifier)."""
