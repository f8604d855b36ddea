"""Contracts and plumbing shared by the services of the Espace Collaboratif d'Innovation.

No business rules live here: event envelope and payloads, topic names, settings mixins,
logging, Kafka and MongoDB factories, the outbox relay and the idempotent consumer.
"""
