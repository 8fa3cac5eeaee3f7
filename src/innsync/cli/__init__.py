"""The ``innsync`` command line."""
