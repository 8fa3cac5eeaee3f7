"""Personal data: guest erasure and the scrubbing of stored documents."""
