"""bodhi_common."""
