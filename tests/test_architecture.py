"""No armjit module uses another armjit module's private names.

A leading underscore says "only this module relies on me": once another module imports it, the
name cannot change without breaking code its owner does not see (``ab`` reaching into
``baseline``'s step functions is how a rule living in three files broke ``verify --worktree``).
What several modules need is made public where it lives.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "armjit"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The module an ``ImportFrom`` names, with relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def private_uses(path: Path) -> Iterator[str]:
    """``file:line: what`` for each private name of another armjit module that ``path`` uses."""
    rel = path.relative_to(PACKAGE.parent).as_posix()
    source = path.read_text(encoding="utf-8")
    yield from private_uses_in(source, _module_name(path), is_package=path.name == "__init__.py", rel=rel)


def private_uses_in(source: str, module: str, *, is_package: bool, rel: str) -> Iterator[str]:
    """The private uses in ``source``, the text of armjit module ``module``.

    Counted: ``from armjit.x import _name`` (x not this module) and ``alias._name`` where
    ``alias`` is bound by an import of an armjit module other than this one. Not counted:
    ``self``/``cls`` attributes, dunders, and a module's own names.
    """
    tree = ast.parse(source, filename=rel)
    aliases: dict[str, str] = {}  # local name -> armjit module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("armjit.") and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node, is_package)
            if not source.startswith("armjit"):
                continue
            for alias in node.names:
                if _private(alias.name) and source != module:
                    yield f"{rel}:{node.lineno}: from {source} import {alias.name}"
                # ``from armjit.flows import baseline as bl``: the bound name is a module
                aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        owner = node.value
        if not isinstance(owner, ast.Name) or owner.id in ("self", "cls"):
            continue
        target = aliases.get(owner.id)
        if target is not None and target != module and _is_module(target):
            yield f"{rel}:{node.lineno}: {owner.id}.{node.attr} ({target})"


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` names an armjit module or package (not a class or function in one)."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def all_private_uses(root: Path = PACKAGE) -> list[str]:
    return [use for path in sorted(root.rglob("*.py")) for use in private_uses(path)]


def test_no_module_uses_another_modules_private_names() -> None:
    uses = all_private_uses()
    assert not uses, "make these public where they live:\n" + "\n".join(uses)


def test_the_check_sees_both_kinds_of_private_use() -> None:
    # The rule is only as good as its detector: one text with each kind, one with neither.
    bad = "from armjit.flows import baseline as bl\nfrom armjit.flows.baseline import _State\nbl._mode(1)\n"
    found = list(private_uses_in(bad, "armjit.flows.ab", is_package=False, rel="ab.py"))
    assert any("import _State" in use for use in found)
    assert any("bl._mode" in use for use in found)
    relative = "from .baseline import _State\n"
    assert list(private_uses_in(relative, "armjit.flows.ab", is_package=False, rel="ab.py"))
    fine = (
        "import armjit.flows.baseline as bl\nfrom armjit.flows.ab import _own\n"
        "class A:\n    def f(self):\n        return self._x, bl.__name__, _own\n"
    )
    assert not list(private_uses_in(fine, "armjit.flows.ab", is_package=False, rel="ab.py"))
