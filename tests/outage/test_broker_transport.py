"""The Redis broker transport (config/broker.py): a channel that outlived its connection fails as a connection
error, which the Celery consumer recovers from, never as the AttributeError that made the worker exit.

The worker-level behaviour (a real worker through repeated outages) is in test_redis_outage.py.
"""

import pytest
from kombu import Connection

from config.broker import Transport


def test_redis_broker_urls_use_the_fixed_transport(broker):
    with Connection(broker.url) as conn:
        assert isinstance(conn.transport, Transport)
    with Connection(broker.url.replace("redis://", "rediss://")) as conn:
        assert conn.transport_cls == "rediss" and isinstance(conn.transport, Transport)


def test_a_channel_used_after_its_connection_was_lost_fails_as_a_connection_error(broker):
    with Connection(broker.url) as conn:
        errors = conn.connection_errors
        queue = conn.SimpleQueue("outage-test")
        queue.put({"n": 1})
        message = queue.get(timeout=5)  # delivered, not yet acknowledged: a task still running
        channel = message.channel
        broker.stop()
        # The state the worker met (issue #13): the consumer collected the lost connection, which detached
        # the transport, while this channel stayed in use and (as closing it does) dropped its Redis pool.
        conn.collect(socket_timeout=1)
        channel._disconnect_pools()
        with pytest.raises(errors):
            message.ack()  # the task finished after the loss
        with pytest.raises(errors):
            channel.qos.restore_unacked()  # the channel is closed once more
