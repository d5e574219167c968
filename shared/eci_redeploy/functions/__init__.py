"""What each Function Compute function does, behind its thin entry point in `functions/`."""
