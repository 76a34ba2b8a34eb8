"""Command-line tools over the services layer: import and export."""
