"""The definitions the server serves and obeys: R4 base definitions, profiles/, terminology/."""
