"""Dirty marks: the outbox that every change to desired ARI writes in its own transaction."""
