"""Parsers of channel exports into one normalised shape (:mod:`pipeline.ingest.model`)."""
