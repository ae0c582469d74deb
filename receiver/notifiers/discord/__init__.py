"""Discord: config.py (an incoming webhook URL, a secret), message.py (embeds within
Discord's limits), limits.py (its rate-limit headers and 429 answers, decided purely),
notifier.py (one message per alert: `?wait=true` posts, PATCH edits on ack and resolve).

A webhook can post, fetch, edit and delete only messages whose id it knows: there is no
way to list a channel's messages and no `nonce` de-duplication on Execute Webhook
(https://discord.com/developers/docs/resources/webhook#execute-webhook; `nonce` and
`enforce_nonce` belong to the bot API's Create Message). So a job whose earlier attempt
may have posted but was never recorded (a SIGKILL between Discord's answer and the record)
posts again: a second message is possible then, a lost one never. Once the message id is
recorded every later send edits it, also from another replica or after a restart.
"""
