"""Persistence: jobs, images, users and lineage in SQLAlchemy (built in a later issue)."""
