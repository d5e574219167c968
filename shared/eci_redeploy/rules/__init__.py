"""The rules file: the validated model, the build-time index, the cold path's watched check, tag policies."""
