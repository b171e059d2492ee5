"""`python -m bodhi_common.probe HOST:PORT`: exit 0 when the gRPC service there reports SERVING.

For container health checks; Kubernetes uses its native gRPC probe instead.
"""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(address: str, timeout: float = 2.0) -> bool:
    """True when the service at `address` answers SERVING within `timeout` seconds."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main() -> None:
    """Entry point."""
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m bodhi_common.probe HOST:PORT\n")
        sys.exit(2)
    sys.exit(0 if check(sys.argv[1]) else 1)


if __name__ == "__main__":
    main()
