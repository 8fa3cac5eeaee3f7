"""Alert rules evaluated by the background loops: open once, deduplicated, resolved when clear."""
