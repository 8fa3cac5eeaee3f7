"""Benchmarks: each scenario measures innsync against real processes and writes its figures.

A scenario is one module with ``TITLE`` and ``run(options) -> Outcome`` plus one line in
``registry.SCENARIOS``; ``innsync bench NAME`` runs it, ``results`` stores the JSON and refreshes
the table in ``docs/benchmarks.md``.
"""
