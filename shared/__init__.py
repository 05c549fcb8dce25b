"""What several services need: settings, logging, the database, the broker, topics, the runner."""
