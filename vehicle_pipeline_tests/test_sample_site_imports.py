"""The sample site's truth is its own: no file of `vehicle_pipeline.sample_site` imports the parsers
(`vehicle_pipeline.sources`), directly or through a project module that imports them itself.

Read with `ast` from the files, so an import inside a function, a `from vehicle_pipeline import sources`
and an `importlib.import_module("…")` of a constant name (or an f-string's constant start) all count,
whether or not that code ever runs."""

from __future__ import annotations

import ast
from pathlib import Path

import vehicle_pipeline

PACKAGE_DIR = Path(vehicle_pipeline.__file__).parent
SAMPLE_SITE = "vehicle_pipeline.sample_site"
FORBIDDEN = "vehicle_pipeline.sources"


def _module_file(name: str) -> Path | None:
    """The file of a project module (`vehicle_pipeline.x.y`), or None when it is not one."""
    parts = name.split(".")
    if parts[0] != "vehicle_pipeline":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module an import statement (or an `import_module`/`__import__` call) of `source` names."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # `from pkg import name` imports the submodule `pkg.name` when there is one (a name that is no
            # module is followed nowhere).
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if called in ("import_module", "__import__"):
                name = _constant_prefix(node.args[0])
                if name:
                    found.add(name)
    # Importing `a.b.c` runs `a` and `a.b` first.
    return {prefix for name in found for prefix in _prefixes(name)}


def _constant_prefix(arg: ast.expr) -> str | None:
    """The module a name argument names: a string constant, or the constant start of an f-string
    (`f"vehicle_pipeline.sources.{name}"` names `vehicle_pipeline.sources`)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).rstrip(".") or None
    return None


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _forbidden(name: str) -> bool:
    return name == FORBIDDEN or name.startswith(FORBIDDEN + ".")


def _project_source(name: str) -> tuple[str, bool] | None:
    """(text, is a package) of a project module, None for any other module."""
    path = _module_file(name)
    return (path.read_text(), path.name == "__init__.py") if path is not None else None


def paths_to_sources(start: dict[str, set[str]], read=_project_source) -> list[list[str]]:
    """Import chains from the given modules (name → names it imports) to `vehicle_pipeline.sources`,
    following project modules outside the sample site through their own text (`read`)."""
    chains: list[list[str]] = []
    seen: set[str] = set()
    stack = [[mod, imp] for mod, names in sorted(start.items()) for imp in sorted(names)]
    while stack:
        chain = stack.pop()
        name = chain[-1]
        if _forbidden(name):
            chains.append(chain)
            continue
        if name in seen or name.startswith(SAMPLE_SITE) or name == "vehicle_pipeline":
            # the sample site's own modules are checked as start points; the package's __init__ below
            continue
        seen.add(name)
        found = read(name)
        if found is None:
            continue  # not a project module
        for imp in sorted(imports_of(found[0], name, found[1])):
            stack.append(chain + [imp])
    return chains


def _sample_site_imports() -> dict[str, set[str]]:
    files = sorted((PACKAGE_DIR / "sample_site").rglob("*.py"))
    assert len(files) >= 10, files  # the package and its pages, not an empty glob
    return {_module_name(p): imports_of(p.read_text(), _module_name(p), p.name == "__init__.py") for p in files}


def test_sample_site_imports_nothing_of_the_parsers():
    imports = _sample_site_imports()
    # The package's own __init__ runs on every import of the site: it must not pull the parsers in either.
    imports["vehicle_pipeline"] = imports_of((PACKAGE_DIR / "__init__.py").read_text(), "vehicle_pipeline", True)
    chains = paths_to_sources(imports)
    assert not chains, "the sample site reaches the parsers:\n" + "\n".join(" -> ".join(c) for c in chains)


def test_the_check_finds_every_way_in():
    """The same check on statements that do reach the parsers: each one is caught."""
    module = "vehicle_pipeline.sample_site.pages.example"
    ways = {
        "import vehicle_pipeline.sources.bat as parser": "vehicle_pipeline.sources.bat",
        "from vehicle_pipeline.sources.fields import split_title": "vehicle_pipeline.sources.fields",
        "from vehicle_pipeline import sources": "vehicle_pipeline.sources",
        "def f():\n    from vehicle_pipeline.sources.classic import score\n": "vehicle_pipeline.sources.classic",
        "import importlib\nimportlib.import_module('vehicle_pipeline.sources.mecum')": "vehicle_pipeline.sources.mecum",
        "import importlib\nimportlib.import_module(f'vehicle_pipeline.sources.{name}')": "vehicle_pipeline.sources",
        # a project module that imports the parsers itself
        "from vehicle_pipeline.wrapper import helper": "vehicle_pipeline.wrapper",
        "from vehicle_pipeline import wrapper": "vehicle_pipeline.wrapper",
    }
    wrapper = "from vehicle_pipeline.sources import fields\nhelper = fields.split_title\n"

    def read(name: str):
        return (wrapper, False) if name == "vehicle_pipeline.wrapper" else _project_source(name)

    for statement, via in ways.items():
        chains = paths_to_sources({module: imports_of(statement, module)}, read)
        assert chains, f"not caught: {statement!r}"
        assert any(via in chain for chain in chains), (statement, chains)
    # relative imports resolve against the module's package
    assert "vehicle_pipeline.sample_site.world" in imports_of("from ..world import DEALERS", module)
    # and what the site may import is not flagged
    assert not paths_to_sources({module: imports_of("import json\nfrom vehicle_pipeline.sample_site.spec import SampleCar", module)})
