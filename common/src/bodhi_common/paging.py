"""Paging of list RPCs: one reading of PageRequest (1-based, default 30 per page, at most 100)."""

from __future__ import annotations

import msgspec

from bodhi.common.v1 import common_pb2

DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 100


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """A page as the service applies it."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.number - 1) * self.size

    def info(self, total: int) -> common_pb2.PageInfo:
        """The PageInfo to answer with."""
        return common_pb2.PageInfo(page=self.number, page_size=self.size, total=total)


def page_of(request: common_pb2.PageRequest) -> Page:
    """Defaults for unset fields; the size clamped to 1..100."""
    size = request.page_size or DEFAULT_PAGE_SIZE
    return Page(number=max(request.page, 1), size=min(max(size, 1), MAX_PAGE_SIZE))
