"""Domain workflow: careplans (issue 6)."""
