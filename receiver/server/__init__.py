"""The running service: the aiohttp app and its wiring (app), serving and signals
(serving), connection budgets and the `server:` section (connections), reload."""
