"""auth_svc."""
