"""`python -m adapters.health_record.simulator [--port 8091]`: serve the simulated store."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_store

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8091)
args = parser.parse_args()
uvicorn.run(create_store(), host=args.host, port=args.port)
