"""Provincial family-doctor signing platform adapter (issue 9).  Wire format: the versioned JSON
schema in `schema/v1/` (documented in `README.md`); `mapping` (pure FHIR ↔ wire), `client` (httpx:
mTLS or signed requests, batching, retries with back-off), `adapter` (outbox consumer, reconcile,
inbound import), `simulator` (a reference platform for tests and demos)."""
