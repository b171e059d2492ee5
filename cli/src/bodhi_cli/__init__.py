"""`bodhi`: the gateway's HTTP API from a terminal, with an API token."""
