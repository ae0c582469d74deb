"""Delivery: workers that turn outbox jobs into notifications, and the due-time scheduler."""
