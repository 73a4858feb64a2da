"""Which library code a workflow step runs, and a digest of what that code means.

The workflow re-runs a step when the code that made its outputs changes. Declaring per step which
modules it uses drifts from the code, so the set is derived: the step's script is parsed, its `icmeta`
imports are followed transitively through the package (module-level and function-level imports
alike, absolute and relative, and the parent packages that Python runs on the way), and each module
found contributes the digest of its syntax tree. Comments, docstrings and formatting are not part
of the tree, so editing them re-runs nothing; any other change (a name, a constant, an import, a
statement) changes the digest of every step that imports the module.

A module that imports another dynamically (`importlib.import_module`, `__import__`) hides the edge
from the parser. Such a call must carry the comment `# provenance: <who declares the target>` on its
line, and each step that reaches it names the target module itself (`extra` in `step_modules`);
an unmarked dynamic import makes `step_modules` raise, so the gap cannot pass unnoticed.

This module imports nothing from `icmeta`: the workflow reads it while it parses.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "icmeta"
DYNAMIC_IMPORTERS = {("importlib", "import_module"), ("", "__import__"), ("", "import_module")}
MARKER = "# provenance:"


class ProvenanceError(RuntimeError):
    """The import graph cannot be derived from the code; the message names the file and line."""


def module_file(src: Path, name: str) -> Path | None:
    """The source file of module `name` under `src` (a package's `__init__.py`), or None."""
    base = src.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`]: packages whose `__init__` runs before `a.b.c` is imported."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _package_of(name: str, path: Path) -> str:
    """The package a module's relative imports start from."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _dynamic_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return ("", func.id) in DYNAMIC_IMPORTERS
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return (func.value.id, func.attr) in DYNAMIC_IMPORTERS
    return False


def direct_imports(path: Path, name: str | None, src: Path) -> set[str]:
    """See `_direct_imports`; cached on the file's text, since every step of a workflow reads the
    same modules."""
    return set(_direct_imports(path.read_text(), path, name, src))


@functools.cache
def _direct_imports(source: str, path: Path, name: str | None, src: Path) -> frozenset[str]:
    """The `icmeta` modules a file imports directly (with their parent packages).

    `name` is the file's module name (None for a script outside the package, which has no relative
    imports). `from package import x` counts `package.x` when x is a module, else `package` alone.
    """
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines()
    found: set[str] = set()

    def add(module: str) -> None:
        if module == PACKAGE or module.startswith(PACKAGE + "."):
            found.update(m for m in [*_parents(module), module] if module_file(src, m))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if name is None:
                    raise ProvenanceError(f"{path}:{node.lineno}: a relative import outside the package")
                base = _package_of(name, path)
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            add(module)
            for alias in node.names:
                if module_file(src, f"{module}.{alias.name}"):
                    add(f"{module}.{alias.name}")
        elif isinstance(node, ast.Call) and _dynamic_call(node) and MARKER not in lines[node.lineno - 1]:
            raise ProvenanceError(
                f"{path}:{node.lineno}: a dynamic import the workflow cannot follow; mark the line "
                f"with '{MARKER} <who names the module>' and have each step that reaches it name the "
                f"module it imports"
            )
    return frozenset(found)


def closure(src: Path, roots: Iterable[str], script: Path | None = None) -> list[str]:
    """Every `icmeta` module that importing `roots` (and running `script`) can load, sorted."""
    todo = set(roots)
    for root in todo:
        if module_file(src, root) is None:
            raise ProvenanceError(f"module {root} does not exist under {src}")
    if script is not None:
        todo |= direct_imports(script, None, src)
    todo |= {p for m in list(todo) for p in _parents(m)}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(src, name)
        assert path is not None  # only existing modules are ever added
        todo |= direct_imports(path, name, src) - seen
    return sorted(seen)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
                node.body = node.body[1:]
    return tree


def _canonical(node: object) -> object:
    """A plain, Python-version-stable rendering of a syntax tree: node types and non-empty fields,
    without positions, so that fields a newer Python adds empty (e.g. `type_params`) change nothing."""
    if isinstance(node, ast.AST):
        fields = {}
        for key in node._fields:
            value = _canonical(getattr(node, key, None))
            if value not in (None, [], ()):
                fields[key] = value
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [_canonical(n) for n in node]
    if isinstance(node, bytes | complex | float | int | str | bool) or node is None or node is Ellipsis:
        return repr(node)
    raise ProvenanceError(f"unexpected syntax node {node!r}")


def meaning_digest(path: Path) -> str:
    """A digest of what a Python file does: equal for files that differ only in comments,
    docstrings and layout."""
    return _meaning_digest(path.read_text())


@functools.cache
def _meaning_digest(source: str) -> str:
    tree = _without_docstrings(ast.parse(source))
    return hashlib.sha256(repr(_canonical(tree)).encode()).hexdigest()


def step_modules(src: Path, script: Path, extra: Iterable[str] = ()) -> list[str]:
    """The library modules a step's script runs: its imports, followed through the package, plus the
    modules the step names for a declared dynamic import."""
    return closure(src, extra, script)


def step_digest(src: Path, script: Path, extra: Iterable[str] = ()) -> str:
    """The code digest of one step: its script and every library module it runs, by meaning."""
    digest = hashlib.sha256(meaning_digest(script).encode())
    for name in step_modules(src, script, extra):
        path = module_file(src, name)
        assert path is not None
        digest.update(f"{name}:{meaning_digest(path)}".encode())
    return digest.hexdigest()[:16]


def content_stamp(stamp: str | Path, paths: Iterable[str | Path]) -> Path:
    """A file holding a digest of the names and bytes of `paths`, rewritten only when it changes, so
    that its date is the date of their last change in content. A step that reads files another
    configuration produced takes the stamp as its input instead of them: their content, not their
    dates or the jobs that made them (which the current config may be unable to run), decides when it
    re-runs, also where Snakemake holds no record of the step's last run (a fresh clone)."""
    hasher = hashlib.sha256()
    for path in paths:
        hasher.update(str(path).encode() + b"\0" + Path(path).read_bytes())
    digest = hasher.hexdigest()[:16]
    stamp = Path(stamp)
    if not stamp.is_file() or stamp.read_text() != digest:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    return stamp
