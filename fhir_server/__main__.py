"""`python -m fhir_server` is the `jiayi` command."""

from .cli import main

main()
