"""The similarity thresholds, apart from :mod:`pipeline.dedup.similarity` (and numpy).

The settings read them at start-up, and ``tgpipe --help`` should not import numpy for two
numbers.
"""

from __future__ import annotations

# From this similarity on, two posts are the same content (TGPIPE_DEDUP_THRESHOLD's default):
# on the labelled set of bench/dedup_bench.py it keeps precision above 0.99 with the best
# recall.
DEFAULT_THRESHOLD = 0.6
# Thresholds below this are refused (settings): a similarity lower than this says nothing
# about being the same content, and the number veto is only checked from here on.
VETO_FROM = 0.3
