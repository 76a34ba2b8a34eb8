"""Custom and standard FHIR operations, one module per operation.

A module declares `OPERATIONS = [OperationSpec(...)]`; `registry.discover()` finds every such module
in this package, so adding an operation never edits a shared list.  Each spec names its
OperationDefinition (served from `profiles/operations/` or the R4 base), which drives parameter
checking and the CapabilityStatement.
"""
