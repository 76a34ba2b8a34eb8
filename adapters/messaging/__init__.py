"""Push delivery channels implementing `fhir_server.domain.pushes.ports.MessageSender`.

- `inbox.LocalInboxSender`: the app inbox, one NDJSON file per resident under a directory (real).
- `webhook.WebhookSender`: POSTs JSON to an SMS / WeChat / app gateway with httpx, retrying
  transient failures with back-off (real).
- `registry.build_channels(...)`: channel list for the composition root.
Others (a vendor SMS SDK, WeChat template messages) plug in by implementing `MessageSender`.
"""
