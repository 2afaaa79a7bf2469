"""Input channels: small subclasses of Rasa's built-in connectors."""
