"""Properties, room types, units and rate plans (including derived and per-person plans)."""
