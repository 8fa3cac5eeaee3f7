"""HTTP routers, one per domain package."""
