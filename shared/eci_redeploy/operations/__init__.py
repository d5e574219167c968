"""Level-triggered runs an operator schedules or asks for: the reconcile."""
