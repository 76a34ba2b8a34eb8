"""The local app inbox: each message appended to `<root>/<patient id>.ndjson`, once per message id
(idempotent), received the moment it is stored.  The resident app (or the demo) reads the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fhir_server.domain.pushes.ports import DeliveryReceipt, OutboundMessage


class LocalInboxSender:
    channel = "app-inbox"
    wants_addresses = False  # the resident's own inbox: no phone number needed

    def __init__(self, root: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.root = Path(root)
        self.clock = clock or (lambda: datetime.now(UTC))

    def _path(self, patient_id: str) -> Path:
        return self.root / f"{patient_id}.ndjson"

    def messages(self, patient_id: str) -> list[dict[str, object]]:
        path = self._path(patient_id)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        now = self.clock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if any(m.get("id") == message.id for m in self.messages(message.patient_id)):
                return DeliveryReceipt(ok=True, sent=now, received=now)
            line = {
                "id": message.id,
                "title": message.title,
                "text": message.text,
                "priority": message.priority,
                "kind": message.kind,
                "at": now.isoformat(),
            }
            with self._path(message.patient_id).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as exc:
            return DeliveryReceipt(ok=False, reason=f"inbox write failed: {exc}")
        return DeliveryReceipt(ok=True, sent=now, received=now)
