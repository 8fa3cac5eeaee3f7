"""Simulators: independent HTTP reimplementations of each channel, built from its documentation."""
