"""Telegram (Bot API): config.py, api.py (the Bot API calls and their errors), message.py
(HTML text and inline keyboard, pure), notifier.py (one message per alert, edited in place),
poller.py (getUpdates from one replica at a time, under a lease in Redis).

What Telegram cannot do: a bot cannot read a chat's history and `sendMessage` takes no
idempotency key (https://core.telegram.org/bots/api#sendmessage), so a send whose answer
was lost (the replica killed, or a timeout, after Telegram accepted the message and before
the outcome was recorded) cannot be found again. The job taken over posts once more: a
possible duplicate rather than a lost alert, logged as such. Both copies carry the same
Acknowledge button (its nonce is derived from the job's key, message.py `button_nonce`), so
either one acknowledges; later edits reach the recorded copy only. A job whose outcome was
recorded edits its message whoever runs it, and that is all a takeover can make certain.
"""
