"""Black-box tests of the whole system: HTTP to the gateway only."""
