"""HTTP edge (FastAPI): translates HTTP ↔ `FhirRequest`/`FhirResponse` and nothing else."""
