"""The HTTP edge: health, metrics (and, later, the integration and callback routes)."""
