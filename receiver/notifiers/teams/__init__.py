"""Microsoft Teams through a Workflows (Power Automate) webhook: config.py (the webhook URL,
a secret), card.py (the Adaptive Card within Teams' 28 KB message limit), notifier.py.

A Workflows webhook only posts: it answers 202 before the flow runs, returns no message
id, cannot edit or delete a card and takes no button callback (that needs a bot
registration: Bot Framework's updateActivity and Action.Execute / Action.Submit). So the
card's **Acknowledge** is an `Action.OpenUrl` to the signed ack link (ack.links), and the
resolve, an ack, a repeat or an escalation step post a follow-up card that names the
first one (its title and when it was posted). There is no way to find an earlier post
either and no idempotency key: a job whose earlier attempt may have posted but was never
recorded (a SIGKILL between the 202 and the record) posts again. A job whose outcome was
recorded does not (the delivery state remembers the last job's key).
https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
"""
