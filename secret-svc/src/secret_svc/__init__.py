"""secret_svc."""
