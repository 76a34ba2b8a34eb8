"""Jiayi (家医): a FHIR R4 server for family-doctor contract services."""

__version__ = "0.1.0"
FHIR_VERSION = "4.0.1"
