"""xiaozhi-server: the chat-history hub for xiaozhi-esp32-server deployments."""

__version__ = "0.1.0"
