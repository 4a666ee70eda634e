from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rel_all

DOCS = Path(__file__).resolve().parents[1] / "docs"
GUIDES = ("recipes", "migration", "design", "all", "index", "seed-mapping")


def _python_blocks(page: str) -> list[tuple[str, str]]:
    """(section heading, code) of every ```python block of a docs page, in order."""
    blocks = []
    heading = page
    text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
    # Fenced blocks are matched whole, so a "# comment" inside one is never taken for a heading.
    pattern = r"^(#+ [^\n]*)$|^```([\w{}-]*)[^\n]*\n(.*?)^```"
    for match in re.finditer(pattern, text, flags=re.MULTILINE | re.DOTALL):
        if match.group(1):
            heading = match.group(1)
        elif match.group(2) == "python":
            blocks.append((heading, match.group(3)))
    return blocks


def _cases() -> list[pytest.param]:
    cases = []
    for page in GUIDES:
        for i, (heading, _) in enumerate(_python_blocks(page)):
            cases.append(pytest.param(page, i, id=f"{page}-{i}-{heading.lstrip('# ')[:40]}"))
    return cases


@pytest.mark.parametrize(("page", "index"), _cases())
def test_guide_examples_run(page: str, index: int, tmp_path: Path) -> None:
    """Every Python example of the guides runs as shown (a block runs after the earlier blocks of its section)."""
    blocks = _python_blocks(page)
    heading, code = blocks[index]
    earlier = [c for h, c in blocks[:index] if h == heading]
    script = tmp_path / "example.py"
    if "serve_health(" in code and "stop.wait()" in code:
        # A server that runs until SIGTERM: on a free port, stopped once it is up.
        script.write_text(re.sub(r"port=\d+", "port=0", code), encoding="utf-8")
        # -u: the example prints its URL without flush=True; to a pipe, that line would
        # sit in the buffer until exit (unless PYTHONUNBUFFERED happens to be set).
        proc = subprocess.Popen(
            [sys.executable, "-u", str(script)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if "http://" not in line:
                proc.kill()  # so that reading its stderr cannot block
                pytest.fail(f"no URL printed: {line!r}\n{proc.communicate()[1][-3000:]}")
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
            proc.wait()
        return
    script.write_text("\n\n".join([*earlier, code]), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, f"{page}.md, block {index} under {heading!r}:\n{out.stderr[-3000:]}"


def test_rel_all_page_lists_every_reexported_name() -> None:
    """The rel-all page names every name `from rel_all import ...` reaches."""
    page = (DOCS / "all.md").read_text(encoding="utf-8")
    missing = [name for name in rel_all.__all__ if name != "__version__" and f"`{name}`" not in page]
    assert missing == []


def test_seed_mapping_marks_what_rel_all_does_not_export() -> None:
    """Each rel name of the seed mapping is in rel_all exactly when the page does not mark it otherwise."""
    wrong = []
    for line in (DOCS / "seed-mapping.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if not line.startswith("|") or len(cells) < 4:
            continue
        marked = "Not in rel_all" in line
        for match in re.finditer(r"from (rel_\w+) import ([\w, ]+)", cells[2]):
            for name in filter(None, (n.strip() for n in match.group(2).split(","))):
                if (name in rel_all.__all__) == marked:
                    wrong.append(f"{name} ({'marked' if marked else 'not marked'} as not in rel_all)")
    assert wrong == []


def test_every_package_has_a_page_in_the_site() -> None:
    """Each package under packages/ has its docs page, in the index's table of contents and package table."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    toctree = "\n".join(re.findall(r"```\{toctree\}(.*?)```", index, flags=re.DOTALL))
    packages = sorted(p.parent.name for p in (DOCS.parent / "packages").glob("*/pyproject.toml"))
    assert packages
    for dist in packages:
        page = dist.removeprefix("rel-")
        assert (DOCS / f"{page}.md").is_file(), f"{dist} has no docs/{page}.md"
        assert re.search(rf"^{re.escape(page)}$", toctree, flags=re.MULTILINE), (
            f"{page} is not in the toctree"
        )
        assert f"| [{dist}]({page}.md) |" in index, f"{dist} is missing from the index's package table"
        assert f"`pip install {dist}`" in index
