"""The PMS-facing HTTP API: app factory, dependencies, error handling and routers."""
