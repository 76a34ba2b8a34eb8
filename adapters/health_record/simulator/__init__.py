"""A reference health-record store (a minimal FHIR endpoint) for tests and demos:
`create_store()`; run with `python -m adapters.health_record.simulator --port 8091`."""
