"""The `velocitas` command line: the composition root that may import every service."""
