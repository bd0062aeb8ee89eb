"""One small registry type shared by the dataset, learner and strategy families.

A family can be *discovered*: every module of its package registers its entries with the
`register` decorator when imported, so adding a strategy or learner is one new file in
`core/strategies/` or `core/learners/`, with no list to edit. Plug-ins outside this
repository register the same way from a module named by an entry point in the group
`albench.<family>` (e.g. `[project.entry-points."albench.strategies"] mine = "my_pkg.my_strategy"`).
Discovery happens on the first lookup; plug-in modules keep heavy imports (torch,
scikit-learn, numba) inside the functions that compute, so listing and validating stay fast.

Entries can also be declared lazily as "module:attribute" (the datasets family does).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> factory mapping whose errors list the valid names.

    `kind` names the family in error messages ("strategy", "learner", ...); `package`, when
    given, is imported module by module on first lookup (its modules register themselves),
    and `entry_point_group` names the entry points of plug-ins installed from elsewhere.
    """

    def __init__(self, kind: str, package: str | None = None, entry_point_group: str | None = None,
                 skip: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._package, self._group, self._skip = package, entry_point_group, set(skip)
        self._discovered = package is None and entry_point_group is None

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True  # set first: the modules imported below call `register`
        if self._package is not None:
            package = importlib.import_module(self._package)
            for module in pkgutil.iter_modules(package.__path__):
                if not module.name.startswith("_") and module.name not in self._skip:
                    importlib.import_module(f"{self._package}.{module.name}")
        if self._group is not None:
            from importlib.metadata import entry_points

            for entry in entry_points(group=self._group):
                entry.load()  # the module's decorators register its entries

    def register_lazy(self, name: str, target: str) -> None:
        """Declare `name` as "package.module:attribute"; the module registers it when imported."""
        if name in self._items or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy[name] = target

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
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
        self._discover()
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
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {self.names()}")

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._discover()
        return len(self._items) + len(self._lazy)

    def names(self) -> list[str]:
        self._discover()
        return sorted({*self._items, *self._lazy})

    def items(self) -> list[tuple[str, T]]:
        return [(name, self[name]) for name in self.names()]
