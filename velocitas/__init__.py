"""Velocitas: the shared domain library every service depends on."""

__version__ = "0.1.0"
