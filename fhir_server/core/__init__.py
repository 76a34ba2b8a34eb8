"""Shared vocabulary of the server: errors, outcomes, ids, clock. Imports nothing from fhir_server."""
