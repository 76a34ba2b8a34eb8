"""Jiayi benchmarks: `python -m benchmarks [rest-core]` (see `benchmarks/README.md`)."""
