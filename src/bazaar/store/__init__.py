"""Stores: where player state and the transactional outbox live (SQLite embedded, Redis)."""
