"""Alembic migrations, applied by :meth:`db.database.Database.migrate`."""
