"""Where the implementation guide's files live: `profiles/` and `terminology/` as package data.

In a wheel they are force-included under `fhir_server/_ig/`; in an editable checkout they are the
repository's top-level folders.  Either way they are found without looking at the working directory.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / "data"


def ig_dir(name: str) -> Path:
    """`profiles` or `terminology`."""
    bundled = _PKG / "_ig" / name
    if bundled.is_dir():
        return bundled
    return _PKG.parent / name


def data_file(name: str) -> Path:
    return DATA_DIR / name
