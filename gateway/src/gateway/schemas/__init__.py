"""msgspec Structs for the gateway's HTTP bodies, one module per resource."""
