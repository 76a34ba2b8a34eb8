"""`jiayi ig`: publish the implementation guide (`jiayi ig build [--out DIR]`).

Mounted in `fhir_server/cli.py` as the `ig` group of the `jiayi` command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from .html import SiteWriter
from .package import (
    PACKAGE_NAME,
    PACKAGE_VERSION,
    collect_resources,
    package_files,
    with_snapshots,
    write_tgz,
)

ig_app = typer.Typer(
    help="Implementation guide: build the FHIR package and HTML summary.", no_args_is_help=True
)


@dataclass(frozen=True)
class BuildResult:
    tgz: Path
    site: Path
    resources: int
    examples: int
    pages: int


def build_ig(out: Path) -> BuildResult:
    """Write `<out>/<name>-<version>.tgz` and the HTML summary in `<out>/site/`."""
    resources = with_snapshots(collect_resources())
    tgz = write_tgz(package_files(resources), out / f"{PACKAGE_NAME}-{PACKAGE_VERSION}.tgz")
    pages = SiteWriter(resources).write(out / "site")
    examples = sum(1 for r in resources if r.is_example)
    return BuildResult(tgz, out / "site", len(resources) - examples, examples, len(pages))


@ig_app.callback()
def _group() -> None:
    """Implementation guide: build the FHIR package and HTML summary."""


@ig_app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("build/ig"),
) -> None:
    """Write the FHIR NPM package (.tgz) and the static HTML summary of the guide."""
    result = build_ig(out)
    typer.echo(
        f"{result.tgz}: {result.resources} resources + {result.examples} examples; "
        f"{result.pages} pages in {result.site}"
    )
