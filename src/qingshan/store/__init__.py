"""The results store: SQLAlchemy models, Alembic migrations, and a small repository API.

SQLite is the embedded default (``sqlite:///path/qingshan.sqlite``); PostgreSQL works from a URL
(``postgresql+psycopg://user@host/db``).
"""
