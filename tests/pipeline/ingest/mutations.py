"""Hypothesis strategies that damage real-looking inputs, for the parsers' property tests."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st


@st.composite
def mutated(draw: st.DrawFn, seeds: Mapping[str, bytes], inserts: Sequence[bytes]) -> bytes:
    """A seed file cut, spliced or shuffled; on its bytes, or on its characters (so the
    result stays valid UTF-8 and the parser itself, not the decoder, meets the damage)."""
    seed = seeds[draw(st.sampled_from(sorted(seeds)))]
    on_text = draw(st.booleans())
    raw: list[Any] = list(seed.decode("utf-8")) if on_text else list(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not raw:
            break
        kind = draw(
            st.sampled_from(["truncate", "delete", "duplicate", "flip", "insert", "shuffle"])
        )
        at = draw(st.integers(0, len(raw) - 1))
        size = draw(st.integers(1, 600))
        if kind == "truncate":
            del raw[at:]
        elif kind == "delete":
            del raw[at : at + size]
        elif kind == "duplicate":
            raw[at:at] = raw[at : at + size]
        elif kind == "flip":
            raw[at] = draw(st.characters(codec="utf-8")) if on_text else draw(st.integers(0, 255))
        elif kind == "insert":
            piece = draw(st.sampled_from(inserts))
            raw[at:at] = list(piece.decode("utf-8", "replace")) if on_text else list(piece)
        else:
            joined = "".join(raw).encode("utf-8", "strict") if on_text else bytes(raw)
            lines = joined.split(b"\n")
            random.Random(draw(st.integers(0, 2**32))).shuffle(lines)
            shuffled = b"\n".join(lines)
            raw = list(shuffled.decode("utf-8", "strict")) if on_text else list(shuffled)
    return "".join(raw).encode("utf-8", "strict") if on_text else bytes(raw)
