"""Client channels to other services: one per service per process, tuned to notice a dead peer
and to reconnect quickly once it is back."""

from __future__ import annotations

import grpc

CHANNEL_OPTIONS = (
    # Reconnect within a second or two of a restarted service, not after grpc's default 120 s.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    # Ping idle connections so that a blackholed peer is noticed.
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    # No transparent retries: every caller has its own deadline and error handling.
    ("grpc.enable_retries", 0),
    # Spread calls over every address the name resolves to: with several replicas behind a
    # headless Service (one DNS record per pod) each gets its share; one address works as before.
    ("grpc.service_config", '{"loadBalancingConfig": [{"round_robin": {}}]}'),
)


def open_channel(address: str) -> grpc.aio.Channel:
    """An insecure channel (traffic stays on the internal network) with our options."""
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
