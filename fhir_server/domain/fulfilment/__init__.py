"""Domain workflow: fulfilment (issue 6)."""
