"""The ARI calendar, blocks, the inventory ledger and availability."""
