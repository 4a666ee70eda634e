"""Check the built distributions of every package before anything is published.

Usage: ``python tools/check_dists.py DIST_DIR PACKAGES_DIR`` after ``nox -s
build`` put each package's sdist and wheel in ``DIST_DIR/<dist>/``. For every
package: exactly one wheel and one sdist with the version of its
``_version.py``; the wheel ships ``py.typed``, the licence and a README
description; ``Requires-Python`` is ``>=3.11``; classifiers name 3.11 to 3.14;
local sibling dependencies carry a version range.
"""

from __future__ import annotations

import email.parser
import re
import sys
import tomllib
import zipfile
from pathlib import Path

SUPPORTED = ["3.11", "3.12", "3.13", "3.14"]


def version_of(package_dir: Path) -> str:
    data = tomllib.loads((package_dir / "pyproject.toml").read_text(encoding="utf-8"))
    path = package_dir / data["tool"]["hatch"]["version"]["path"]
    match = re.search(r'__version__\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f"{path}: no __version__ string")
    return match.group(1)


def check_package(dist_dir: Path, package_dir: Path, local: set[str]) -> list[str]:
    name = package_dir.name
    module = name.replace("-", "_")
    version = version_of(package_dir)
    problems: list[str] = []
    wheels = list((dist_dir / name).glob("*.whl"))
    sdists = list((dist_dir / name).glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"{name}: expected one wheel and one sdist, found {wheels + sdists}"]
    wheel = wheels[0]
    if f"-{version}-" not in wheel.name or not sdists[0].name.endswith(f"-{version}.tar.gz"):
        problems.append(f"{name}: built files {wheel.name}, {sdists[0].name} do not carry version {version}")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode())
    if f"{module}/py.typed" not in names:
        problems.append(f"{name}: wheel lacks {module}/py.typed")
    if not any(n.endswith(".py") and n.startswith(f"{module}/") for n in names):
        problems.append(f"{name}: wheel has no {module} sources")
    if meta.get("Requires-Python", "").replace(" ", "") != ">=3.11":
        problems.append(f"{name}: Requires-Python is {meta.get('Requires-Python')!r}, expected '>=3.11'")
    classifiers = meta.get_all("Classifier") or []
    for py in SUPPORTED:
        if f"Programming Language :: Python :: {py}" not in classifiers:
            problems.append(f"{name}: classifier for Python {py} missing")
    if not (meta.get_payload() or "").strip():
        problems.append(f"{name}: empty long description (README)")
    if not meta.get("License-Expression") and not meta.get("License"):
        problems.append(f"{name}: no licence metadata")
    for req in meta.get_all("Requires-Dist") or []:
        dep = re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0].lower().replace("_", "-")
        if dep in local and not re.search(r"[<>=~]", req.split(";")[0]):
            problems.append(f"{name}: sibling dependency {req!r} has no version range")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    dist_dir, packages_dir = Path(argv[0]), Path(argv[1])
    package_dirs = sorted(p.parent for p in packages_dir.glob("*/pyproject.toml"))
    local = {p.name for p in package_dirs}
    problems = [problem for p in package_dirs for problem in check_package(dist_dir, p, local)]
    for problem in problems:
        print(problem)
    print(f"checked {len(package_dirs)} packages: {'OK' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
