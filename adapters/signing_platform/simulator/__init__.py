"""A reference implementation of the provincial platform (FastAPI), for tests and demos:
`create_simulator()`; run with `python -m adapters.signing_platform.simulator --port 8090`."""
