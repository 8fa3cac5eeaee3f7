"""Connections of a property to channels: credentials, switches, state and code mappings."""
