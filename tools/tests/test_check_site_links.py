from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import check_site_links  # noqa: E402


def _site(root: Path, pages: dict[str, str]) -> Path:
    for name, body in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return root


def test_sound_site_passes(tmp_path: Path) -> None:
    """Links to existing pages, anchors, assets and external sites are all accepted."""
    site = _site(
        tmp_path,
        {
            "index.html": '<a href="guide.html#setup">x</a><a href="#top">t</a><h1 id="top">T</h1>'
            '<a href="https://example.org/missing">ext</a><a href="mailto:a@b.c">m</a>'
            '<img src="_static/logo.png"><a href="sub/">dir</a>',
            "guide.html": '<section id="setup">s</section><a href="index.html">home</a>',
            "sub/index.html": '<a href="../guide.html#setup">up</a><a name="old-style"></a>',
            "_static/logo.png": "",
        },
    )
    assert check_site_links.check_site(site) == []


def test_missing_page_and_anchor_are_reported(tmp_path: Path) -> None:
    """A link to a page that does not exist and one to a missing anchor are both reported, with the page."""
    site = _site(
        tmp_path,
        {
            "index.html": '<a href="nowhere.html">a</a><a href="guide.html#gone">b</a><a href="#here">c</a>',
            "guide.html": '<p id="present">p</p>',
        },
    )
    problems = check_site_links.check_site(site)
    assert any("index.html: nowhere.html (no such file)" in p for p in problems)
    assert any("guide.html#gone (no anchor #gone" in p for p in problems)
    assert any("#here (no anchor #here" in p for p in problems)
    assert len(problems) == 3


def test_command_exit_codes(tmp_path: Path) -> None:
    """The command exits 1 on a broken link, 0 on a sound site and 2 when there is no built site."""
    script = str(ROOT / "tools" / "check_site_links.py")
    _site(tmp_path / "ok", {"index.html": '<a href="index.html">self</a>'})
    _site(tmp_path / "bad", {"index.html": '<a href="missing.html">x</a>'})
    run = [sys.executable, script]
    assert subprocess.run([*run, str(tmp_path / "ok")], check=False).returncode == 0
    bad = subprocess.run([*run, str(tmp_path / "bad")], check=False, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "missing.html" in bad.stdout
    assert subprocess.run([*run, str(tmp_path / "none")], check=False).returncode == 2
