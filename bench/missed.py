"""For each PERFORMANCE.md target that a run can miss: what the profile says explains it and what
it would take to meet it. latest.py prints the entry of every row a run marks as missed, so
latest.md names each miss with its figure (the table), its cause and its price (below).

The texts name causes and levers, not figures: the figures are the run's own, in the table and in
the linked reports (profile.md holds the py-spy breakdown they refer to).
"""

from __future__ import annotations

_HOP = (
    "the gRPC hop gateway -> aiproxy-svc is the structural cost: about a third of the gateway's "
    "CPU per request and half of aiproxy's is grpc (C-core, its poller thread, the loop wake-ups "
    "it causes), on top of one more loopback round trip ([profile.md](profile.md))"
)

WHY: dict[str, str] = {
    "P1": (
        "The gateway and aiproxy-svc each spend about 0.5 ms of CPU per chat "
        "([profile.md](profile.md)): Litestar's per-request machinery ~20 % of the gateway's, "
        "grpc ~21 %, uvicorn ~8 %; " + _HOP + ". The ratio to LiteLLM and the p99 hold. "
        "Would take: a raw ASGI handler for non-streamed chat (skips Litestar's response "
        "conversion, ~5 %), granian instead of uvicorn, and above all one hop fewer: the gateway "
        "calling a warm provider itself while aiproxy-svc keeps owning configuration and keys "
        "(served to gateways by a watch stream with the same NOTIFY invalidation). That moves "
        "provider keys into gateway memory, a trust change ARCHITECTURE.md would have to accept."
    ),
    "P2": (
        "Same cause as P3: at 1,000 req/s the box is past the rate the stack sustains, so the "
        "open-loop schedule queues and p99 grows with the queue, with no errors. Would take what "
        "P3 takes."
    ),
    "P3": (
        "CPU-bound on 2 cores shared by the load generator, the upstream, the gateway and "
        "aiproxy-svc: gateway + aiproxy use about 1.0-1.5 ms of CPU per request, so the stack "
        "saturates well before 1,400 req/s. " + _HOP[0].upper() + _HOP[1:] + ". Would take: "
        "halving CPU per request (above all one hop fewer: the gateway calling a warm provider "
        "itself while aiproxy-svc keeps owning configuration and keys, a trust change "
        "ARCHITECTURE.md would have to accept) or more cores: gateways and aiproxy replicas are "
        "stateless and scale out (deploy/k8s runs several)."
    ),
    "P4": (
        "Time to first event pays what P1 pays plus the server-streaming RPC's start message "
        "(2.38 ms and 3.08 ms at p50 in the last two full runs, on different boxes). The added "
        "gap between chunks is ~0.01 ms at the median; its p99 is scheduling: the path has two "
        "Python processes (gateway, aiproxy) where LiteLLM has one, on 2 cores shared with the "
        "client and the upstream, so a chunk sometimes waits for a core (0.27, 0.47 and 1.65 ms "
        "p99 in three full runs on record). Coalescing, loss and disconnects meet their targets. "
        "Would take one hop fewer (the gateway calling a warm provider itself, as P3 says), or "
        "more cores."
    ),
    "P5": (
        "Our server adds an interceptor (internal-token check from its cache, request id, "
        "metrics) to a bare grpc.aio server measured in the same run; the bare server's own p50 "
        "is most of the budget on this box. Would take: a cheaper interceptor, or a faster box."
    ),
    "P7": (
        "GetSecret's p99 is the gRPC hop's tail, not crypto: the bare hop alone (same run) is "
        "most of the p99 and the AES-GCM work is microseconds per call. Would take a cheaper "
        "interceptor (internal-token check, request id, metrics) or a faster box; callers on "
        "the hot path already keep decrypted keys in memory (aiproxy-svc does), so the vault is "
        "not on the chat path."
    ),
    "P8": (
        "curl -o writes without hashing; model-svc verifies SHA-256 as the bytes arrive (the "
        "target's 'without a second full read') and fsyncs progress for resume, from a disk "
        "thread of its own. SHA-256 runs at 1.0-1.7 GB/s per core on these machines (openssl "
        "speed), the order of curl -o's loopback copy, and both cores are shared with the Hub "
        "serving the file, so a verified download here cannot approach an unverified one; "
        "against curl followed by a hash it is the 'vs curl+sha256' column, and it beats "
        "hf_hub_download. Over a real network "
        "(below ~1 GB/s) the hash is not the bottleneck. Would take: a faster hash than the "
        "checksum the Hub publishes allows (none), so the target should compare verified to "
        "verified."
    ),
    "P9": (
        "Only auth-svc misses (the gateway, model-svc, aiproxy-svc and secret-svc meet theirs "
        "since internal tokens use hmac, gguf/numpy load on first use and Litestar loads no "
        "pydantic). Idle RSS is imports, not data (measured import by import, bytecode "
        "compiled): grpc ~13 MB, cryptography ~8 MB (joserfc verifies the identity provider's "
        "RS256/ES256 signatures with it), asyncpg ~3 MB, httpx ~3 MB, which in the development "
        "environment also imports rich, click and pygments for its command line (~2.5 MB; absent "
        "from the service's image). Would take: the OIDC token checks in a process of their own, "
        "or a lighter RSA/EC verifier than OpenSSL's bindings; none is worth a second process."
    ),
}
