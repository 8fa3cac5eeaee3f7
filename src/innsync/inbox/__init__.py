"""Inbound engine: webhook ingress into a durable inbox, and the processor that applies it."""
