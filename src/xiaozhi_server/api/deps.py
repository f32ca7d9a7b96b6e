"""Dependencies shared by the API routes."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from xiaozhi_server.services import Services


def get_services(connection: HTTPConnection) -> Services:
    """The instance's services, set up by the app's lifespan."""
    services: Services = connection.app.state.services
    return services
