from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
ISSUE_SESSIONS = ("tests", "integration", "lint", "typecheck", "build", "docs", "bench", "demo", "ci")


def _noxfile() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rel_noxfile", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nox(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOX", "VIRTUAL_ENV"))}
    return subprocess.run(
        [sys.executable, "-m", "nox", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _package(root: Path, folder: str, name: str, *, test_body: str = "") -> None:
    pkg = root / "packages" / folder
    module = name.replace("-", "_")
    (pkg / "src" / module).mkdir(parents=True)
    (pkg / "src" / module / "__init__.py").write_text('__version__ = "0.1"\n')
    (pkg / "tests").mkdir()
    (pkg / "tests" / "test_it.py").write_text(test_body)
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["hatchling>=1.21"]
            build-backend = "hatchling.build"

            [project]
            name = "{name}"
            version = "0.1"
            requires-python = ">=3.11"

            [dependency-groups]
            test = ["pytest>=8.2", "pytest-asyncio>=0.24", "pytest-timeout>=2.3"]

            [tool.hatch.build.targets.wheel]
            packages = ["src/{module}"]
            """
        )
    )


@pytest.fixture
def mini_repo(tmp_path: Path) -> Path:
    """A copy of the repository's noxfile, tool config and dependency checker, with no packages yet."""
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "noxfile.py", tmp_path / "noxfile.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "tools" / "check_deps.py", tmp_path / "tools" / "check_deps.py")
    (tmp_path / "packages").mkdir()
    return tmp_path


def test_nox_lists_every_session_of_the_issue() -> None:
    """`nox -l` lists a tests session per package at both resolutions, and every other session."""
    out = _nox("-l")
    assert out.returncode == 0, out.stderr
    listed = set(re.findall(r"^[*-] (\S+)", out.stdout, flags=re.MULTILINE))
    for session in ISSUE_SESSIONS:
        assert session in listed, session
    packages = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
    assert packages
    for package in packages:
        for resolution in ("highest", "lowest-direct"):
            assert f"tests-{package}(resolution='{resolution}')" in listed


def test_ci_runs_every_package_at_both_resolutions() -> None:
    """The ci session notifies a tests session per package and resolution, and the cross-package sessions."""
    noxfile = _noxfile()
    notified: list[str] = []

    class Recorder:
        def notify(self, name: str) -> None:
            notified.append(name)

    noxfile.ci.func(Recorder())
    for package in noxfile.PACKAGES:
        for resolution in noxfile.RESOLUTIONS:
            assert f"tests-{package}(resolution='{resolution}')" in notified
    for session in ("lint", "typecheck", "tooling", "integration", "build", "docs"):
        assert session in notified


def test_folder_without_pyproject_stops_nox(mini_repo: Path) -> None:
    """A folder under packages/ that is not a package fails loudly instead of being skipped."""
    _package(mini_repo, "rel-good", "rel-good")
    (mini_repo / "packages" / "rel-half" / "src").mkdir(parents=True)
    out = _nox("-l", cwd=mini_repo)
    assert out.returncode != 0
    assert "rel-half has no pyproject.toml" in out.stdout + out.stderr


def test_two_folders_with_one_name_stop_nox(mini_repo: Path) -> None:
    """Two folders declaring the same distribution name are an error, not one silently hiding the other."""
    _package(mini_repo, "rel-one", "rel-same")
    _package(mini_repo, "rel-two", "rel-same")
    out = _nox("-l", cwd=mini_repo)
    assert out.returncode != 0
    assert "both define package 'rel-same'" in out.stdout + out.stderr


def test_a_new_package_gets_its_sessions_without_editing_the_noxfile(mini_repo: Path) -> None:
    """Dropping a package folder in packages/ adds its two tests sessions."""
    _package(mini_repo, "rel-new", "rel-new")
    out = _nox("-l", cwd=mini_repo)
    assert out.returncode == 0, out.stderr
    assert "tests-rel-new(resolution='highest')" in out.stdout
    assert "tests-rel-new(resolution='lowest-direct')" in out.stdout


def test_package_with_no_test_functions_fails_its_session(mini_repo: Path) -> None:
    """A test file that collects nothing makes pytest exit 5, and the session fails on it."""
    _package(mini_repo, "rel-empty", "rel-empty", test_body='"""No tests here."""\n')
    out = _nox("-s", "tests-rel-empty(resolution='highest')", cwd=mini_repo, timeout=300)
    output = out.stdout + out.stderr
    assert out.returncode != 0, output[-3000:]
    assert "exit code 5" in output or "no tests ran" in output, output[-3000:]


def test_package_without_tests_folder_fails_its_session(mini_repo: Path) -> None:
    """A package with no test files fails its session before anything is installed."""
    _package(mini_repo, "rel-bare", "rel-bare")
    shutil.rmtree(mini_repo / "packages" / "rel-bare" / "tests")
    out = _nox("-s", "tests-rel-bare(resolution='highest')", cwd=mini_repo, timeout=300)
    assert out.returncode != 0
    assert "has no tests" in out.stdout + out.stderr


def test_ci_script_runs_exactly_the_readme_test_command() -> None:
    """`.ci/run` runs the README quick start's test command, byte for byte, under `set -euo pipefail`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.*?)\n```", readme, flags=re.DOTALL)
    test_command = next(c for c in commands if "-s ci" in c)
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    body = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert "set -euo pipefail" in body
    assert body[-1] == test_command
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    demo_command = next(c for c in commands if "-s demo" in c)
    assert demo_command.replace("-s demo", "-s ci") == test_command
