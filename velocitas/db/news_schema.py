"""Constants of the `news` table that code outside SQLAlchemy reads (the analyst's commands
check a model's output size against it without importing the ORM models)."""

from __future__ import annotations

__all__ = ["EMBEDDING_DIM"]

EMBEDDING_DIM = 384
"""Dimension of `news.embedding`; equals the default model's (all-MiniLM-L6-v2) output size.
See `velocitas.db.models.news` for what changing it takes."""
