"""Bulk Data Access IG 2.0 `$export` (https://hl7.org/fhir/uv/bulkdata/export.html): kick-off
(`params`, `router`), the export job (`runner`, persisted by `store`), status polling, NDJSON
downloads and cancellation (`router.build_bulk_router`)."""
