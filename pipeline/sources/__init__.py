"""Live sources: pages tgpipe fetches itself (channel web previews, articles) and watches.

``fetch`` is the polite HTTP client every fetch goes through (``shared_pace`` keeps its
turns per host in Redis, for several processes); ``addresses`` tells channel addresses from
other URLs; ``preview`` walks a channel's web preview back page by page; ``remote`` turns an
address into what the importer writes; ``watches`` pulls watched channels on their schedule.
The markup is read by the same parsers as saved files (``pipeline/ingest/web_html.py``,
``pipeline/ingest/article.py``).
"""
