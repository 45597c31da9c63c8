"""Every registry loads its entry points the same way: a plugin that fails to import is logged and left
out, the others still load (a broken package must not stop the server)."""
import logging
import types

from digits.utils import plugins


def _entry(name, load):
    return types.SimpleNamespace(name=name, value=f"pkg.{name}:Thing", load=load)


def test_a_broken_entry_point_is_logged_and_the_others_load(monkeypatch, caplog):
    def broken():
        raise ImportError("No module named 'tensorflow'")
    entries = [_entry("broken", broken), _entry("good", lambda: "the good one")]
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: entries if group == "digits.plugins.x" else [])
    registered = []
    with caplog.at_level(logging.ERROR, logger="digits.plugins"):
        plugins.load_entry_points("digits.plugins.x", registered.append, "view extension")
    assert registered == ["the good one"]
    assert "view extension broken (pkg.broken:Thing) could not be loaded" in caplog.text
    assert "No module named 'tensorflow'" in caplog.text


def test_a_plugin_the_registry_refuses_is_left_out_too(monkeypatch, caplog):
    def register(thing):
        if thing == "clash":
            raise ValueError("extension id 'dots' is taken")
        registered.append(thing)
    registered = []
    monkeypatch.setattr(plugins.metadata, "entry_points",
                        lambda group: [_entry("a", lambda: "clash"), _entry("b", lambda: "fine")])
    with caplog.at_level(logging.ERROR, logger="digits.plugins"):
        plugins.load_entry_points("digits.plugins.data", register, "data extension")
    assert registered == ["fine"] and "extension id 'dots' is taken" in caplog.text
