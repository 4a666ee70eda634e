"""Print finished spans as a compact tree, folding repeated siblings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any


def render_tree(spans: Sequence[Any], *, max_children: int = 6) -> str:
    """Return the spans (SDK ``ReadableSpan`` objects) as an indented tree.

    Siblings with the same name are folded into one line with a count and the
    total duration; at most ``max_children`` distinct names are shown per level.
    """
    by_id = {s.context.span_id: s for s in spans}
    children: dict[int | None, list[Any]] = defaultdict(list)
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children[parent if parent in by_id else None].append(span)
    lines: list[str] = []

    def duration_ms(span: Any) -> float:
        return float((span.end_time or span.start_time) - span.start_time) / 1e6

    def walk(group: list[Any], depth: int) -> None:
        named: dict[str, list[Any]] = defaultdict(list)
        for span in sorted(group, key=lambda s: s.start_time):
            named[span.name].append(span)
        for i, (name, same) in enumerate(named.items()):
            if i >= max_children:
                lines.append("  " * depth + f"... {len(named) - max_children} more kinds")
                break
            total = sum(duration_ms(s) for s in same)
            errors = sum(1 for s in same if not s.status.is_ok)
            count = f" x{len(same)}" if len(same) > 1 else ""
            err = f" ({errors} failed)" if errors else ""
            lines.append("  " * depth + f"{name}{count}  {total:.1f} ms{err}")
            merged = [c for s in same for c in children.get(s.context.span_id, [])]
            if merged:
                walk(merged, depth + 1)

    walk(children[None], 0)
    return "\n".join(lines)
