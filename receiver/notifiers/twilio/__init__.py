"""Twilio Programmable Messaging and Voice (https://www.twilio.com/docs/messaging/api,
https://www.twilio.com/docs/voice/api): config, the async REST client, TwiML, and callback
signatures (twilio.request_validator). Twilio's own HTTP client is synchronous: the REST
calls go through the app's shared aiohttp session instead."""
