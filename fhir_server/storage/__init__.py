"""Persistence behind ports; the only package that knows SQL (`storage.sql`)."""
