"""Vonage: the Messages API for texts and the Voice API with an NCCO for calls
(https://developer.vonage.com/en/api/messages, https://developer.vonage.com/en/api/voice),
authenticated with an application JWT (RS256, the application's private key), callbacks
verified as signed webhooks (HS256 JWT with the signature secret and a payload hash)."""
