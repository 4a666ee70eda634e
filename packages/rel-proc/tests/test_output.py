"""BoundedOutput keeps exactly the head and tail of a stream, whatever the chunking."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rel_proc._output import BoundedOutput


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=3000),
    limit=st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20),
)
def test_head_and_tail_for_any_chunking(data: bytes, limit: int | None, cuts: list[int]) -> None:
    """The kept bytes are the first limit//2 and last limit-limit//2 bytes; omitted counts the rest."""
    buffer = BoundedOutput(limit)
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for start, end in itertools.pairwise(points):
        buffer.feed(data[start:end])
    if limit is None or len(data) <= limit:
        assert buffer.getvalue() == data
        assert buffer.omitted == 0
    else:
        head, tail = limit // 2, limit - limit // 2
        assert buffer.getvalue() == data[:head] + data[len(data) - tail :]
        assert buffer.omitted == len(data) - limit
