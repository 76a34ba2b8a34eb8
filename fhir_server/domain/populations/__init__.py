"""Domain workflow: populations (issue 6)."""
