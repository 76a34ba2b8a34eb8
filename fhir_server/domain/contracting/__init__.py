"""Domain workflow: contracting (issue 6)."""
