"""The post store: SQLAlchemy models, engine/session setup, migrations helpers and queries."""
