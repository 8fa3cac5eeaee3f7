"""Outbound sync: plan the difference between desired and acknowledged ARI, then send it."""
