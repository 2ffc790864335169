"""Deduplication: one post per piece of content (DESIGN.md, "Dedup").

``text`` turns a post into what is compared, ``signature`` into the keys of the persisted
LSH index, ``similarity`` decides whether two posts are the same content, and ``cluster``
keeps every post's ``duplicate_of`` equal to what a full re-clustering would give.
"""
