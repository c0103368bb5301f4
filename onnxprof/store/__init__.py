"""The results store: every measurement run, kept (SQLite by default, PostgreSQL via SQLAlchemy)."""
