"""The config file: YAML with ${VAR} and secret files (loader), the composed Settings
(settings), every check across sections (check), durations and placeholder secrets."""
