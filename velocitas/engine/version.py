"""The engine's version, recorded with every job: bump it whenever results could change."""

ENGINE_VERSION = "1.0.0"
