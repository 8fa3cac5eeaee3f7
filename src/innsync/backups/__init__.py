"""Backups: portable, encrypted, verified logical copies of an innsync database.

The format, the runbook and the guarantees are in ``docs/backups.md``.
"""
