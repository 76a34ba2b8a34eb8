"""Resource validation: `Validator.validate(resource) -> list[Issue]`.

Issue codes decide the HTTP status in the services layer: `structure` (the body cannot be read as
the R4 resource: unknown element, wrong JSON type, malformed primitive) → 400; every other error
(cardinality, invariants, profiles, business rules) → 422.
"""
