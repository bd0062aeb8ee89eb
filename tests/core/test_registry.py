"""Plug-in identity in the run key, and plug-ins that cannot be loaded."""

from __future__ import annotations

import importlib.util
import sys

from core.engine.config import RunConfig
from core.registry import plugin_identity
from core.strategies import STRATEGIES


def _load(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_a_plugins_identity_is_its_declared_version_else_its_source(tmp_path):
    old = _load(tmp_path, "plug_v1", "class Mine:\n    pass\n").Mine
    new = _load(tmp_path, "plug_v2", "class Mine:\n    pass  # changed\n").Mine
    same = _load(tmp_path, "plug_v3", "class Mine:\n    pass\n").Mine
    assert plugin_identity(old).startswith("source:")
    assert plugin_identity(old) != plugin_identity(new) and plugin_identity(old) == plugin_identity(same)
    declared = _load(tmp_path, "plug_v4", "class Mine:\n    version = '2.1'\n").Mine
    assert plugin_identity(declared) == "version:2.1"


def test_the_run_key_changes_with_the_strategys_code(monkeypatch):
    spec = RunConfig(strategies=("entropy",), rounds=2).specs()[0]
    before = spec.key("fingerprint")
    plugin_identity.cache_clear()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(STRATEGIES["entropy"], "version", "2", raising=False)  # as a new release would declare
            assert spec.key("fingerprint") != before
    finally:
        plugin_identity.cache_clear()
    assert spec.key("fingerprint") == before


def _plugins(tmp_path, monkeypatch, modules: dict[str, str]):
    """A registry with one built-in ("random") and the given plug-in modules as installed entry points."""
    import types
    from importlib import metadata

    from core.registry import Registry

    registry = Registry("strategy", entry_point_group="albench.test")

    @registry.register("random")
    class BuiltIn:
        pass

    monkeypatch.setitem(sys.modules, "plugtest_registry", types.SimpleNamespace(REG=registry))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, source in modules.items():
        (tmp_path / f"{name}.py").write_text(source)
    entries = [metadata.EntryPoint(name=name, value=name, group="albench.test") for name in modules]
    monkeypatch.setattr(metadata, "entry_points", lambda group=None: entries if group == "albench.test" else [])
    return registry, BuiltIn


def test_a_plugin_that_raises_on_import_is_skipped_with_one_warning(tmp_path, monkeypatch):
    import pytest

    from core.registry import PluginSkipped

    registry, _ = _plugins(tmp_path, monkeypatch, {
        "plug_broken": "import plugtest_registry\n@plugtest_registry.REG.register('half')\nclass Half: pass\n"
                       "raise RuntimeError('missing dependency')\n",
        "plug_good": "import plugtest_registry\n@plugtest_registry.REG.register('mine')\nclass Mine: pass\n"})
    with pytest.warns(PluginSkipped, match="'plug_broken'.*failed to import.*missing dependency") as caught:
        names = registry.names()
    assert names == ["mine", "random"] and len(caught) == 1  # the good plug-in still loads; nothing half-registered


def test_a_plugin_shadowing_a_builtin_is_skipped_and_the_builtin_wins(tmp_path, monkeypatch):
    import pytest

    from core.registry import PluginSkipped

    registry, built_in = _plugins(tmp_path, monkeypatch, {
        "plug_shadow": "import plugtest_registry\n@plugtest_registry.REG.register('random')\nclass Fake: pass\n"})
    with pytest.warns(PluginSkipped, match="'random' of a built-in strategy.*built-ins win"):
        assert registry["random"] is built_in
