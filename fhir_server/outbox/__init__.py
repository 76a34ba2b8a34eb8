"""The transactional outbox: every change an adapter or subscription must carry is recorded in the
same database transaction as the change (`writer.OutboxWriter`, called by `SqlResourceStore.write`),
and delivered after commit by `dispatcher.Dispatcher`s holding per-consumer leases.

Pattern: "Transactional outbox" (microservices.io).  At-least-once delivery + idempotency keys on
the receiving side (event `seq`, or the adapter's record key) = each change observed exactly once.
"""
