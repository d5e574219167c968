"""Carrying steps out through the single writer: batches, health, rollback, pre-warming, hand-off."""
