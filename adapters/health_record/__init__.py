"""Resident health-record store adapter (issue 9): publishes each resident's record to a FHIR
store — a document Bundle with an IPS-style Composition summary (`fhir_server.domain.sync.summary`)
plus the changed resources — kept current through the outbox, withdrawn when the resident's
Consent denies disclosure.  `client` (the store's FHIR REST API, implements
`fhir_server.domain.sync.ports.HealthRecordStore`), `adapter` (the outbox consumer),
`simulator` (a minimal FHIR store for tests and demos)."""
