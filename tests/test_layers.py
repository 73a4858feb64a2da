"""The library's imports run one way: no cycles, and every import goes down the layer table written
in the package docstring (so the table a reader trusts is the one the code keeps)."""

from __future__ import annotations

import re
from pathlib import Path

import icmeta
from icmeta.provenance import direct_imports, module_file

SRC = Path(icmeta.__file__).parents[1]
MODULES = sorted(
    ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    for p in (SRC / "icmeta").rglob("*.py")
)


def _top(module: str) -> str:
    """`icmeta.figures.panels` -> `figures`: the name the layer table lists."""
    return module.split(".")[1]


def _edges() -> dict[str, set[str]]:
    """Each module's import statements (a submodule's implicit import of its parent packages aside)."""
    edges = {}
    for module in MODULES:
        if module == "icmeta":
            continue
        found = direct_imports(module_file(SRC, module), module, SRC)
        edges[module] = {m for m in found if m != module and not module.startswith(m + ".") and m != "icmeta"}
    return edges


def _layers() -> dict[str, int]:
    table = re.findall(r"^\s*(\d+)\. ([\w, ]+?) --", icmeta.__doc__, re.M)
    assert table, "the package docstring lost its layer table"
    layers: dict[str, int] = {}
    for number, names in table:
        for name in names.split(", "):
            assert name not in layers, f"{name} is listed twice in the layer table"
            layers[name] = int(number)
    return layers


def test_the_layer_table_lists_every_module_once_and_nothing_else():
    assert set(_layers()) == {_top(m) for m in MODULES if m != "icmeta"}


def test_every_import_goes_to_a_lower_layer():
    layers = _layers()
    upward = [
        f"{module} (layer {layers[_top(module)]}) imports {target} (layer {layers[_top(target)]})"
        for module, targets in _edges().items()
        for target in targets
        if _top(target) != _top(module) and layers[_top(target)] >= layers[_top(module)]
    ]
    assert not upward, "\n".join(upward)


def test_there_are_no_import_cycles():
    edges = _edges()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for target in sorted(edges.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in edges:
        visit(module, [])
