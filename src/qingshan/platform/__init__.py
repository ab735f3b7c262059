"""The platform services: accounts and sessions, the audit log, reporting forms (统计报表制度),
submissions and their review, and accounting jobs run by a worker process.

Services take a SQLAlchemy ``sessionmaker`` and never import FastAPI; the web layer
(:mod:`qingshan.api`) and the worker (``qingshan worker``) share only the database.
"""

__all__: list[str] = []
