"""The oracle's routers, one per resource."""
