"""aiproxy_svc."""
