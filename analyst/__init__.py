"""analyst service."""
