"""Keeping outside systems in step (issue 9): the ports the adapters implement and the jobs
(`provincial-reconcile`, `provincial-import`, `outbox-dispatch`)."""
