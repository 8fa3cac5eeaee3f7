"""Reservations, their rooms and revision history, and guests."""
