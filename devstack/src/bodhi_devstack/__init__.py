"""bodhi_devstack."""
