"""Transport-free FHIR interactions: `FhirRequest` in, `FhirResponse` out.

One module per interaction (read, create, update, patch, delete, history, capabilities, bundle …);
`router.py` is the one URL table.  The HTTP layer (`rest/`) and Bundle processing both call
`router.dispatch`, so a batch entry behaves exactly like the same request over HTTP.
"""
