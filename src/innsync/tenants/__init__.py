"""Tenants (organizations) and the API keys that act for them."""
