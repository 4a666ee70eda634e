"""Run every ``bench_*.py`` module and write ``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/run.py [--quick] [--out FILE] [names...]`` (names
select modules, e.g. ``retry`` for ``bench_retry.py``; ``--out`` writes the
table elsewhere, so a partial run leaves ``RESULTS.md`` alone). Never fails on a number: a module that
crashes is reported in the results and the run goes on.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Group  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    parser.add_argument(
        "--out", type=Path, default=HERE / "RESULTS.md", help="markdown file to write (default: RESULTS.md)"
    )
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    args = parser.parse_args(argv)

    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.names:
        modules = [m for m in modules if m.removeprefix("bench_") in args.names]
    sections = [
        "# Benchmark results",
        "",
        f"Python {platform.python_version()} on {platform.machine()} ({platform.system()}). "
        "Medians of repeated runs; every ratio compares implementations measured in this same run.",
        "",
    ]
    for name in modules:
        print(f"== {name}", flush=True)
        try:
            groups: list[Group] = importlib.import_module(name).run(args.quick)
        except Exception:
            sections += [f"## {name}", "", "```", traceback.format_exc(), "```", ""]
            print(traceback.format_exc(), flush=True)
            continue
        sections += [f"## {name.removeprefix('bench_')}", ""]
        for group in groups:
            table = group.to_markdown()
            print(table, flush=True)
            sections.append(table)
    args.out.write_text("\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
