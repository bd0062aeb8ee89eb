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

import functools
import hashlib
import importlib
import logging
import pkgutil
import sys
from typing import Any, Callable, Generic, Iterator, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class PluginSkipped(UserWarning):
    """An installed plug-in (or one of its names) was not registered; the message says why."""


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
        self._plugin = None  # the entry point being imported, while one is

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
            from importlib import metadata

            for entry in metadata.entry_points(group=self._group):
                self._load_plugin(entry)

    def _load_plugin(self, entry) -> None:
        """Import one installed plug-in (its decorators register its entries). One that fails to import is
        skipped, and so is a name it gives that a built-in already has (built-ins win): one warning each."""
        import warnings

        self._plugin, before = entry, dict(self._items)
        try:
            entry.load()
        except Exception as exc:  # a third party's module: any error it raises is its own, not ours
            self._items = before  # nothing half-registered stays
            warnings.warn(f"{self.kind} plug-in {entry.name!r} ({entry.value}) skipped: it failed to import "
                          f"({type(exc).__name__}: {exc})", PluginSkipped, stacklevel=2)
        finally:
            self._plugin = None

    def register_lazy(self, name: str, target: str) -> None:
        """Declare `name` as "package.module:attribute"; the module registers it when imported."""
        if name in self._items or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy[name] = target

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if self._plugin is not None and (name in self._lazy or (name in self._items and self._items[name] is not obj)):
                import warnings

                warnings.warn(f"{self.kind} plug-in {self._plugin.name!r} ({self._plugin.value}) gives the name "
                              f"{name!r} of a built-in {self.kind}; the plug-in's is skipped (built-ins win)",
                              PluginSkipped, stacklevel=2)
                return obj
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


@functools.lru_cache(maxsize=None)
def plugin_identity(obj: Any) -> str:
    """What a plug-in's code is, for the run key: "version:V" when the class declares `version`, else
    "source:<sha256 of its module's file>" (any edit then makes new runs; declaring `version` lets an
    author say which edits change results). Memoised per class: the code of a loaded class does not change.
    """
    version = getattr(obj, "version", None)
    if version is not None:
        return f"version:{version}"
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    path = getattr(module, "__file__", None)
    try:
        with open(path, "rb") as f:  # a .py file of an imported module: not a pipe
            return "source:" + hashlib.sha256(f.read()).hexdigest()[:16]
    except (OSError, TypeError):  # defined interactively: no file to hash
        return f"name:{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
