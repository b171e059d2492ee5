"""What a Redis call raises when Redis is down, cut or hung, in one place for every caller.

redis-py turns most transport failures into RedisError (ConnectionError, TimeoutError) and some
reach us as OSError. Under uvloop, the first command on a pooled connection whose socket was
cut (a reset) can raise RuntimeError ("unable to perform operation on <TCPTransport
closed=True>", MagicStack/uvloop#506), which redis-py passes through: without it here that
became a 500 (found by the e2e fault tests and the soak, issue #9). Only Redis calls run inside
the handlers that catch this tuple.
"""

from __future__ import annotations

from redis.exceptions import RedisError

REDIS_DOWN: tuple[type[Exception], ...] = (RedisError, OSError, RuntimeError)
