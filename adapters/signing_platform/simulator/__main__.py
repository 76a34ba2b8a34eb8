"""`python -m adapters.signing_platform.simulator [--port 8090]`: serve the simulated platform."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_simulator

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8090)
args = parser.parse_args()
uvicorn.run(create_simulator(), host=args.host, port=args.port)
