"""One small registry type shared by the dataset, learner and strategy families.

Entries can be declared lazily as "module:attribute" so that listing and validating names
imports nothing heavy (torch, scikit-learn, numba): a cached run, the CLI's --help and the
dashboard's sidebar stay fast. The module is imported on first lookup.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> factory mapping whose errors list the valid names.

    `kind` names the family in error messages ("strategy", "learner", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}

    def register_lazy(self, name: str, target: str) -> None:
        """Declare `name` as "package.module:attribute"; the module registers it when imported."""
        if name in self._items or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy[name] = target

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._lazy.pop(name, None)
            self._items[name] = obj
            try:
                obj.name = name  # type: ignore[attr-defined]
            except AttributeError:  # functions and frozen classes keep their own names
                pass
            return obj

        return decorator

    def __getitem__(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        if name in self._lazy:
            module, attribute = self._lazy[name].split(":")
            imported = importlib.import_module(module)  # its decorators register the real entry
            if name not in self._items:
                self._items[name] = getattr(imported, attribute)
                self._lazy.pop(name, None)
            return self._items[name]
        raise ValueError(f"unknown {self.kind} {name!r}; choose one of {self.names()}")

    def check(self, name: str) -> None:
        """Raise the "unknown name" error without importing anything."""
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {self.names()}")

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items) + len(self._lazy)

    def names(self) -> list[str]:
        return sorted({*self._items, *self._lazy})
