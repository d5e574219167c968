"""Cross-cutting basics every package may use: typed errors, logs, secrets, settings, YAML, image references."""
