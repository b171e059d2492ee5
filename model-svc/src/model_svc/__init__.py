"""model_svc."""
