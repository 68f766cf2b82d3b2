"""The Redis broker transport, with one fix: a worker survives Redis going away while it holds unacknowledged
tasks (celery 5.7.0, kombu 5.7.0, redis-py 8.1.0, the latest releases when this was written).

What happens without it (issue #13): on a lost connection, celery 5.7's consumer calls `Connection.collect()`
and then (new in 5.7) `Connection.close()`. `collect()` detaches the transport (`transport.client = None`)
but leaves channels open when closing them hits the dead socket. Whatever then uses such a channel, the
`close()` that restores its unacknowledged tasks or the acknowledgement of a task that finishes after the
reconnect, needs a new Redis pool, builds its parameters from `transport.client` and fails with
`AttributeError: 'NoneType' object has no attribute 'hostname'`. That is not one of the connection errors the
consumer recovers from: "Unrecoverable error", and the worker exits (10 of 16 outages in the issue). The same
kind of failure was fixed in kombu before for other paths (kombu#582, kombu#970).

The fix: a channel whose transport is detached raises a connection error instead, which the consumer handles
as every other one (an acknowledgement is logged as not sent, a close is finished, the consumer reconnects).
Nothing is lost: unacknowledged messages stay in Redis's `unacked` hash and a worker restores them after
`visibility_timeout` (their tasks are idempotent); if Redis itself lost them, the outboxes and their sweeps
queue the work again.

`config/celery.py` makes this the transport of every `redis://` and `rediss://` broker URL.
"""

from kombu.transport import redis


class Channel(redis.Channel):
    """kombu's Redis channel, refusing as a connection error to reconnect through a detached transport."""

    def _connparams(self, asynchronous=False):
        if getattr(self.connection, "client", None) is None:
            raise redis.get_redis_ConnectionError()("this channel's broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
