"""From a trigger payload to neutral events: one adapter per wire format, the event model, webhook auth."""
