"""Sphinx configuration for the rel documentation site."""

from __future__ import annotations

project = "rel"
author = "The rel developers"
copyright = "2026, The rel developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = "rel"
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}
# Type hints name classes of third-party libraries that are not documented here.
nitpick_ignore_regex = [(r"py:.*", r".*")]
suppress_warnings = ["myst.header"]
