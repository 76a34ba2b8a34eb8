"""Topic-based Subscriptions per the Subscriptions R5 Backport IG for FHIR R4
(http://hl7.org/fhir/uv/subscriptions-backport/): topics (`topics`), the R4 Subscription model
(`model`), notification Bundles (`notifications`), outbox fan-out and numbering (`fanout`), rest-hook
delivery (`delivery`) and the handshake/heartbeat/dispatch rounds (`manager`)."""
