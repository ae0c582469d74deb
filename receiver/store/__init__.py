"""Redis: keys, connection, embedded server, Lua scripts and the alert state store."""
