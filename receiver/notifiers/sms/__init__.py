"""What SMS and voice share whatever the provider (issue 24): the texts and the spoken
script (text.py), reply parsing, the phone jobs' recipients, one-time reply codes bound to
a phone number and an alert episode (codes.py), and the verdict on an inbound reply
(inbound.py). The providers are receiver/notifiers/twilio and receiver/notifiers/vonage;
which one is tried next is receiver/delivery/failover.py."""
