"""Units of database work, as use-cases that call a channel in between need them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


class UnitsOfWork(Protocol):
    """Runs one unit of database work in its own short transaction (``api.deps.Database``):
    no transaction stays open while a channel is called."""

    async def read(self, work: Callable[[Session], T]) -> T: ...

    async def write(self, work: Callable[[Session], T]) -> T: ...

    @property
    def sessions(self) -> sessionmaker[Session]:
        """For what keeps its own short transactions (a connection's channel tokens)."""
        ...
