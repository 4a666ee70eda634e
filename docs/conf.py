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
# Every cross-reference must resolve (-n with -W), except these:
nitpick_ignore_regex = [
    # Standard library and third-party names: the site builds offline, without intersphinx.
    (
        r"py:.*",
        r"(_thread|abc|asyncio|collections|concurrent|contextvars|enum|http|logging|os|pathlib|socket|ssl"
        r"|subprocess|types|typing|filelock|opentelemetry|psutil|tenacity)(\..*)?",
    ),
    (r"py:class", r"PathLike|RetryCallState|SpanContext|TracerProvider|Attributes"),
    # Private helpers and type variables that appear in public signatures.
    (r"py:.*", r"rel_\w+\._.*"),
    (r"py:.*", r"[A-Z]"),
    # Type aliases shown in signatures, not documented objects of their own.
    (r"py:class", r"AlertCallback|Durability|ExceptionSpec|Gauge|Jitter|StreamSpec"),
]
suppress_warnings = ["myst.header"]


def _source_within_distribution(app: object, modname: str, attribute: str) -> str | None:
    """Give [source] links only to objects defined in the package that documents them.

    A package page may also document names it re-exports from a sibling (rel_io
    exports rel_retry's ``with_retry``). Following those would make viewcode's
    [docs] back-link point at the sibling's page with an anchor that is not
    there; the sibling's own page keeps the [source] link.
    """
    import importlib  # noqa: PLC0415 - only needed while building

    try:
        obj = importlib.import_module(modname)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    defined_in = getattr(obj, "__module__", None)
    if not isinstance(defined_in, str) or defined_in.split(".")[0] != modname.split(".", maxsplit=1)[0]:
        return modname
    return defined_in


def setup(app: object) -> None:
    """Register the viewcode hook above."""
    app.connect("viewcode-follow-imported", _source_within_distribution)  # type: ignore[attr-defined]
