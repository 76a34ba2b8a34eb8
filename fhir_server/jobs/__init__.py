"""The runner for scheduled and on-demand jobs; job definitions live beside their domain."""
