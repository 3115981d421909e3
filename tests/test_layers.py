"""The layers of armjit/ (README "Architecture"): a layer imports only from layers below it.

Read from the source with ``ast``, so a new import that crosses a layer upwards fails here, with the
module and the import named, before it becomes a cycle or a hidden dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "armjit"

# Lowest first. A module may import its own layer and any layer before it.
LAYERS = ("base", "jitlog", "seams", "analysis", "render", "cinderx", "flows", "cli")
BASE_MODULES = {"__init__", "config", "errors"}
# Modules that sit in another layer than their folder says.
MODULE_LAYERS = {
    "armjit.resolve": "seams",  # gathers settings from files, the environment and the git checkout
}
# The few imports allowed to reach up, each with the reason: (importer, imported) -> why.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("armjit.config", "armjit.cinderx.modes"): "--modes is checked against the mode registry (pure data)",
    ("armjit.analysis.compare", "armjit.cinderx.modes"): "whether a mode must compile comes from the registry",
    ("armjit.config", "armjit.seams.safepaths"): "the path guard's rules are pure functions of the path",
}


def layer_of(dotted: str) -> str:
    if dotted in MODULE_LAYERS:
        return MODULE_LAYERS[dotted]
    parts = dotted.split(".")
    if parts[0] != "armjit":
        raise ValueError(dotted)
    if len(parts) == 1 or parts[1] in BASE_MODULES:
        return "base"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _submodule_or_package(package: str, name: str) -> str:
    """``from armjit.cinderx import modes`` imports the module armjit.cinderx.modes, not the package."""
    base = PACKAGE.parent.joinpath(*package.split("."), name)
    return f"{package}.{name}" if base.with_suffix(".py").is_file() or base.is_dir() else package


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("armjit"):
            found += [(node.lineno, _submodule_or_package(node.module, alias.name)) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("armjit")]
    return found


def python_sources() -> list[Path]:
    # Scripts shipped to the host run under the host's Python, outside the package's layers.
    return sorted(p for p in PACKAGE.rglob("*.py") if "resources" not in p.parts)


def test_every_layer_is_known() -> None:
    unknown = {layer_of(module_name(p)) for p in python_sources()} - set(LAYERS)
    assert not unknown, f"place these packages in LAYERS (and README's Architecture): {sorted(unknown)}"


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = []
    for path in python_sources():
        here = module_name(path)
        rank = LAYERS.index(layer_of(here))
        for line, target in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            if target == "armjit.__version__":
                continue
            there = layer_of(target)
            if LAYERS.index(there) > rank and (here, target) not in ALLOWED_UPWARD:
                where = path.relative_to(PACKAGE.parent)
                upward.append(f"{where}:{line} ({layer_of(here)}) imports {target} ({there})")
    assert not upward, "imports that reach up a layer:\n" + "\n".join(upward)


def test_the_checker_sees_an_upward_import() -> None:
    """The walk above must be able to fail: an analysis module importing a flow is caught."""
    tree = ast.parse("from armjit.flows import baseline\nfrom armjit import errors\n")
    targets = [t for _, t in imported_modules(tree)]
    assert targets == ["armjit.flows.baseline", "armjit.errors"]
    assert LAYERS.index(layer_of(targets[0])) > LAYERS.index(layer_of("armjit.analysis.stats"))


def test_bench_scripts_import_what_exists() -> None:
    """bench/ scripts are not run by the suite; their armjit imports must still name real things."""
    import importlib
    import importlib.util

    missing = []
    for script in sorted((PACKAGE.parent / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("armjit"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    found = hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}")
                    if not found:
                        missing.append(f"{script.name}: from {node.module} import {alias.name}")
    assert not missing, missing
