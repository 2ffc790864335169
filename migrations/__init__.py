"""Alembic environment and revisions: the only way tgpipe's schema changes."""
