"""The simulator kit: the shared `/_sim/` control plane, fault injection and request log."""
