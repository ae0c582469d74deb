"""Mattermost (bot token, REST API v4): config.py, token.py (the Acknowledge button's
signed token), api.py (the few v4 calls), message.py (the post), lookup.py (did an earlier
attempt already post?), notifier.py.

One post per alert episode, edited in place on repeat, ack and resolve. What a takeover can
and cannot find is in lookup.py.
"""
