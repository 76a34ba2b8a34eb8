"""Declarations as data: each domain package may declare what it adds to the server in a module of
a fixed name (`jobs.py` → `JOBS`, `rules_on_write.py` → `WRITE_RULES`, `workers.py` → `WORKERS`).
The composition root collects them, so adding a workflow never edits a shared list."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

DOMAIN = "fhir_server.domain"


def declared(module: str, attribute: str, package: str = DOMAIN) -> Iterator[Any]:
    """Every item of `<package>.<each sub-package>.<module>.<attribute>`, sub-packages in name order
    (a sub-package without that module declares nothing; any other import error is raised)."""
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        name = f"{package}.{info.name}.{module}"
        try:
            found = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        yield from getattr(found, attribute, ())
