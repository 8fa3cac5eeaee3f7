"""Reservations, their rooms and revision history, and guests."""

# Numbers every reservation change for the list's cursor, on every session (see change_order).
from innsync.reservations import change_order as change_order
