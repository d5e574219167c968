"""What happened, told once: the audit trail and the notifications."""
