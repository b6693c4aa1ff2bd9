"""oracle service."""
