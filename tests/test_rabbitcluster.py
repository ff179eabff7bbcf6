"""The throwaway RabbitMQ node of the queue tests: it starts, carries a message, goes away and comes
back with what it held."""

from __future__ import annotations

import socket

import pytest


def round_trip(url: str, queue_name: str, body: dict, *, durable: bool = True) -> None:
    from kombu import Connection, Exchange, Queue

    queue = Queue(queue_name, Exchange(queue_name, type="direct", durable=durable), routing_key=queue_name,
                  durable=durable)
    with Connection(url, connect_timeout=10) as conn:
        conn.Producer().publish(body, exchange=queue.exchange, routing_key=queue_name, declare=[queue],
                                serializer="json", delivery_mode=2)


def receive(url: str, queue_name: str) -> dict | None:
    from kombu import Connection

    with Connection(url, connect_timeout=10) as conn:
        message = conn.SimpleQueue(queue_name).get(block=True, timeout=30)
        message.ack()
        return message.payload


def test_the_node_speaks_amqp_on_loopback_only(rabbit_cluster):
    assert rabbit_cluster.url.startswith("amqp://guest:guest@127.0.0.1:")
    with socket.create_connection(("127.0.0.1", rabbit_cluster.port), timeout=10):
        pass


def test_a_message_round_trips_through_the_node(broker_url):
    round_trip(broker_url, "test-round-trip", {"source": "watchdog", "n": 1})
    assert receive(broker_url, "test-round-trip") == {"source": "watchdog", "n": 1}


def test_a_durable_message_outlives_the_node_going_away(rabbit_cluster, broker_url):
    from kombu import Connection

    round_trip(broker_url, "test-durable", {"kept": True})
    rabbit_cluster.stop()
    with pytest.raises(OSError):
        with Connection(broker_url, connect_timeout=2) as conn:
            conn.connect()
    rabbit_cluster.restart()
    assert receive(broker_url, "test-durable") == {"kept": True}
