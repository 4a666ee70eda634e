"""Check every link inside a built HTML site: the target file exists and so does its #anchor.

Usage: python tools/check_site_links.py docs/_build/html

External links (with a scheme such as https: or mailto:) are not fetched. Exits 1
listing each broken internal link with the page it is on, 0 when all resolve.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if values.get(key):
                self.ids.add(str(values[key]))
        for key in ("href", "src"):
            if values.get(key) and not (tag == "link" and values.get("rel") in ("canonical",)):
                self.links.append(str(values[key]))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def check_site(root: Path) -> list[str]:
    """Every broken internal link under ``root``, as ``page: link (why)`` lines."""
    root = root.resolve()
    pages = {p.resolve(): _parse(p) for p in sorted(root.rglob("*.html"))}
    problems = []
    for page_path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or (link.startswith("#") and not parts.fragment):
                continue
            where = page_path.relative_to(root)
            target = page_path if not parts.path else (page_path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(root):
                problems.append(f"{where}: {link} (points outside the site)")
                continue
            if not target.exists():
                problems.append(f"{where}: {link} (no such file)")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                target_page = pages.get(target) or _parse(target)
                if fragment not in target_page.ids:
                    problems.append(f"{where}: {link} (no anchor #{fragment} in {target.relative_to(root)})")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: check_site_links.py BUILT_HTML_DIR", file=sys.stderr)
        return 2
    root = Path(argv[0])
    if not (root / "index.html").is_file():
        print(f"check_site_links: {root} holds no index.html; build the site first", file=sys.stderr)
        return 2
    problems = check_site(root)
    for problem in problems:
        print(problem)
    pages = sum(1 for _ in root.rglob("*.html"))
    print(f"check_site_links: {pages} pages, {len(problems)} broken internal links")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
