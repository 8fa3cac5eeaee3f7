"""Channel core: neutral types, errors, capability contract and registry shared by adapters."""
