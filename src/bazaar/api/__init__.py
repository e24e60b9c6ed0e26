"""The HTTP API (ASGI, Starlette)."""
