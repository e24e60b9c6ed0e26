"""Events on the wire: the codec, the published contract, the Kafka adapter and the relay
that moves the store's outbox to a Kafka topic without losing an event."""
