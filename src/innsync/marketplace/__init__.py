"""The OTA side: properties whose ARI comes from a channel, marketplace bookings sent to them,
and the offers read by a marketplace's search."""
