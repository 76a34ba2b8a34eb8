"""Every match of a search, following the paging cursor: the one place the workflows (contracting,
care plans, fulfilment, referrals, pushes, Consent) read a whole result set through the gate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PAGE = 500


def iter_matches(
    repo: Any, resource_type: str, query: list[tuple[str, str]], page_size: int = PAGE
) -> Iterator[dict[str, Any]]:
    """The matches' contents, page after page (never truncated); `repo` is a FhirRepository."""
    cursor: str | None = None
    while True:
        paged = query + ([("_cursor", cursor)] if cursor else [])
        result = repo.search([resource_type], paged, page_size=page_size)
        for record in result.matches:
            if record.content is not None:
                yield record.content
        cursor = result.next_cursor
        if not cursor:
            return


def search_all(
    repo: Any, resource_type: str, query: list[tuple[str, str]], page_size: int = PAGE
) -> list[dict[str, Any]]:
    """`iter_matches` as a list."""
    return list(iter_matches(repo, resource_type, query, page_size))
