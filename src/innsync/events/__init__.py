"""What the PMS is told: the event log, its cursor feed and signed webhook deliveries."""
