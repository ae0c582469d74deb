"""The web console: server-rendered pages for the people on call (issue #13).

`routes.add_routes(app, settings)` registers it when `console` is on (a session secret is
configured); otherwise none of its URLs exist. See docs/operations.md, "Web console".
Kept empty so that server/settings.py can import `web.config` without the handlers.
"""
