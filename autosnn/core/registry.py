"""One small registry idiom for every named family (blocks, spaces, zoo models, neurons,
down-sampling layers, fitness forms, presets, genotypes, exporters).

A registry maps a name to a factory (or a value). Registration is one line next to what is
registered, either as a decorator (``@BLOCKS.register("SCB_k3")``) or a call
(``SPACES.add("snn1", spec)``); lookups of unknown names raise one :class:`AutosnnError` that
lists the valid names, so the CLI's choices and error messages come from the registry itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from autosnn.core.errors import AutosnnError

T = TypeVar("T")


class Registry(Generic[T]):
    """``name -> T`` in registration order; ``kind`` names the family in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; a name can be registered once."""
        if not name or not isinstance(name, str):
            raise AutosnnError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items:
            raise AutosnnError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def remove(self, name: str) -> None:
        """Unregister ``name`` (tests that register toy entries clean up with this)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The item registered as ``name``; unknown names list the valid ones."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise AutosnnError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(self._items)}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
