"""The eraser: runs each erasure request once its cool-off has passed (one leader at a time)."""
