from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(ROOT / "tools"))

import check_deps  # noqa: E402


@pytest.fixture
def on_path(request: pytest.FixtureRequest) -> Iterator[None]:
    src = str(FIXTURES / request.param / "src")
    sys.path.insert(0, src)
    yield
    sys.path.remove(src)


@pytest.mark.parametrize("on_path", ["bad-pkg"], indirect=True)
@pytest.mark.usefixtures("on_path")
def test_undeclared_imports_are_reported() -> None:
    """An installed-but-undeclared import and a missing module are both flagged."""
    problems = check_deps.check(FIXTURES / "bad-pkg")
    text = "\n".join(problems)
    assert "imports 'filelock' from filelock, which bad-pkg does not declare" in text
    assert "not_installed_anywhere_xyz" in text
    assert "pytest" not in text.replace("pytest>=", "")


@pytest.mark.parametrize("on_path", ["good-pkg"], indirect=True)
@pytest.mark.usefixtures("on_path")
def test_declared_and_optional_imports_pass() -> None:
    """Declared dependencies, the stdlib and an extra's missing module are accepted."""
    assert check_deps.check(FIXTURES / "good-pkg") == []


def test_command_line_exit_code() -> None:
    """The script exits non-zero and names the problem for the bad fixture."""
    env = {"PYTHONPATH": str(FIXTURES / "bad-pkg" / "src")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_deps.py"), str(FIXTURES / "bad-pkg")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert "undeclared" in out.stdout


def test_nox_lists_every_session() -> None:
    """`nox -l` lists each package's tests at both resolutions and every named session."""
    out = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "-f", str(ROOT / "noxfile.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    packages = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
    assert packages
    for pkg in packages:
        for resolution in ("highest", "lowest-direct"):
            assert f"tests-{pkg}(resolution='{resolution}')" in out.stdout
    for session in ("integration", "lint", "typecheck", "build", "docs", "bench", "demo", "ci", "tooling"):
        assert f"* {session}" in out.stdout or f"- {session}" in out.stdout
