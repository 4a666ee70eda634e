"""Fail when a package imports a distribution it does not declare.

Usage: ``python tools/check_deps.py packages/<dist>`` inside a venv where the
package is installed with only its declared dependencies (as the nox ``tests``
sessions do). Two checks:

1. static: every absolute import in ``src/`` resolves (through the installed
   distributions' file lists) to the package itself, the standard library, or a
   distribution named in ``dependencies`` (or in an extra, for optional imports;
   or pytest in a module registered as a ``pytest11`` plugin);
2. dynamic: every module of the installed package imports; a missing module is
   allowed only when it belongs to an extra.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise SystemExit(f"unreadable requirement {requirement!r}")
    return canonical(match.group(1))


def module_owners() -> dict[str, set[str]]:
    """Map every importable module path of every installed distribution to its distributions."""
    owners: dict[str, set[str]] = {}
    for dist in md.distributions():
        name = canonical(dist.metadata["Name"] or "")
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if not parts or parts[0].endswith((".dist-info", ".data")) or ".." in parts:
                continue
            if parts[-1] == "__init__.py":
                mod = ".".join(parts[:-1])
            elif parts[-1].endswith(".py"):
                mod = ".".join((*parts[:-1], parts[-1][:-3]))
            elif ".cpython-" in parts[-1] or parts[-1].endswith((".so", ".pyd")):
                mod = ".".join((*parts[:-1], parts[-1].split(".")[0]))
            else:
                continue
            owners.setdefault(mod, set()).add(name)
    return owners


def owner_of(module: str, owners: dict[str, set[str]]) -> set[str]:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        found = owners.get(".".join(parts[:i]))
        if found:
            return found
    return set()


def guess_dist(module: str, candidates: set[str]) -> str | None:
    """For a module that is not installed: the candidate distribution whose name matches its path."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        guess = canonical(".".join(parts[:i]))
        if guess in candidates:
            return guess
    return None


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from opentelemetry import trace` names the submodule in a namespace package.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def check(package_dir: Path) -> list[str]:
    data = tomllib.loads((package_dir / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    own = canonical(project["name"])
    declared = {requirement_name(r) for r in project.get("dependencies", [])}
    optional = {
        requirement_name(r) for reqs in project.get("optional-dependencies", {}).values() for r in reqs
    }
    plugins = set(project.get("entry-points", {}).get("pytest11", {}).values())
    src = package_dir / "src"
    own_modules = {p.name for p in src.iterdir() if p.is_dir() or p.suffix == ".py"}
    owners = module_owners()
    problems: list[str] = []
    modules: list[str] = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        modules.append(module)
        allowed = declared | optional | ({"pytest"} if module in plugins else set())
        for lineno, name in imports_of(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__" or top in own_modules:
                continue
            dists = owner_of(name, owners)
            if own in dists:
                continue
            if not dists:
                guessed = guess_dist(name, allowed)
                if guessed is None:
                    problems.append(
                        f"{path}:{lineno}: imports {name!r}, which no declared dependency provides"
                    )
                continue
            if not dists & allowed:
                problems.append(
                    f"{path}:{lineno}: imports {name!r} from {', '.join(sorted(dists))}, "
                    f"which {own} does not declare in [project] dependencies"
                )
    for module in modules:
        if module.endswith("__main__"):
            continue  # importing it would run the program
        try:
            importlib.import_module(module)
        except ImportError as exc:
            cause = exc.__cause__
            missing = exc.name or (cause.name if isinstance(cause, ImportError) else None) or ""
            if missing and (guess_dist(missing, optional) or (module in plugins and missing == "pytest")):
                continue
            problems.append(f"importing {module} failed with only declared dependencies installed: {exc}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    package_dir = Path(argv[0]).resolve()
    problems = check(package_dir)
    for problem in problems:
        print(problem)
    if problems:
        print(
            f"{package_dir.name}: {len(problems)} undeclared dependenc{'y' if len(problems) == 1 else 'ies'}"
        )
        return 1
    print(f"{package_dir.name}: every import is declared")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
