"""The HTTP edge: /healthz, /metrics, the Integration API (POST /integrations/v1/clients) and
the provider callbacks (POST /callbacks/…). It has no write path of its own: what it accepts is
published to a topic, and a service does the rest."""
