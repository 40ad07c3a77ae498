"""One page of a Graph ``getMemberObjects`` answer, and the bounded sum of all pages.

Pure code. A page is ``{"value": [ids...], "@odata.nextLink": url?}``. Every id
must be a GUID (lowercased here): anything else means the answer cannot be
trusted, so the whole lookup fails (closed) rather than guessing which entries
were meant. :class:`Collector` caps the number of pages and of groups, so a
misbehaving or hostile endpoint cannot keep Portcullis paging forever or
growing a list without bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portcullis.graph.urls import is_guid

__all__ = ["Collector", "Page", "PageError", "parse_page"]

NEXT_LINK = "@odata.nextLink"


class PageError(ValueError):
    """The answer is malformed or over a bound; the message is safe to log."""


@dataclass(frozen=True, slots=True)
class Page:
    ids: tuple[str, ...]
    next_link: str | None


def parse_page(body: Mapping[str, Any]) -> Page:
    value = body.get("value")
    if not isinstance(value, list):
        raise PageError("graph answer has no 'value' list")
    ids: list[str] = []
    for item in value:
        lowered = item.lower() if isinstance(item, str) else None
        if not is_guid(lowered):
            raise PageError("graph answer holds an id that is not a GUID")
        assert lowered is not None
        ids.append(lowered)
    next_link = body.get(NEXT_LINK)
    if next_link is not None and not isinstance(next_link, str):
        raise PageError("graph answer has a non-string nextLink")
    return Page(tuple(ids), next_link or None)


class Collector:
    """Adds pages up to ``max_pages`` pages and ``max_groups`` distinct ids, in order."""

    __slots__ = ("_ids", "_max_groups", "_max_pages", "pages")

    def __init__(self, *, max_pages: int, max_groups: int) -> None:
        self._max_pages = max_pages
        self._max_groups = max_groups
        self._ids: dict[str, None] = {}
        self.pages = 0

    def add(self, page: Page) -> None:
        self.pages += 1
        self._ids.update(dict.fromkeys(page.ids))
        if len(self._ids) > self._max_groups:
            raise PageError(f"principal is in more than {self._max_groups} groups")
        if page.next_link is not None and self.pages >= self._max_pages:
            # Raised before the next page is fetched: page max_pages + 1 is never requested.
            raise PageError(f"graph answer spans more than {self._max_pages} pages")

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self._ids)
