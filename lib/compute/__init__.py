"""The compute wing: what to recompute after loads, store to frames, results to store."""
