"""Pure decisions: (events, rules, observed state) -> steps carrying the exact ECI requests."""
