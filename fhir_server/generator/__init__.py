"""Synthetic Guangdong population (issue 10): seeded, offline, reproducible.

`population.py` draws residents, households and their health records from published figures
(`terminology/population/guangdong-reference-figures.json`); `providers.py` draws institutions,
teams and doctors in proportion; `resources.py` turns both into FHIR resources; `output.py` writes
NDJSON or loads a database; `cli.py` is `jiayi generate`.
"""
