"""The default target of `invoke` and `serve`: the fake ECI on a loopback port, reached through the
real SDK exactly as the live API would be."""

from __future__ import annotations

from collections.abc import Sequence

from ..clients.eci import Credentials, EciGateway, RetryPolicy, sdk_client_factory
from ..clients.eci_model import ContainerGroup, dump_groups
from .server import FakeEciServer, seeded_backend


def embedded_server(groups: Sequence[ContainerGroup] = (), *, transition_seconds: float = 0.0) -> FakeEciServer:
    """`transition_seconds`: how long a group stays Pending / Updating / Restarting after a change."""
    backend = seeded_backend(dump_groups(groups)["ContainerGroups"])
    backend.startup_seconds = backend.update_seconds = transition_seconds
    return FakeEciServer(backend).start()


def gateway_for(server: FakeEciServer, *, retry: RetryPolicy | None = None) -> EciGateway:
    key, secret = server.credentials
    factory = sdk_client_factory(Credentials(key, secret), server.url, server.url)  # ESS on the same server
    return EciGateway(
        factory,
        retry=retry or RetryPolicy(max_attempts=4, max_seconds=5, initial=0.05, maximum=0.5),
        label=f"embedded-fake:{server.endpoint}",
    )


def embedded_gateway(groups: Sequence[ContainerGroup] = (), *, transition_seconds: float = 0.0) -> EciGateway:
    return gateway_for(embedded_server(groups, transition_seconds=transition_seconds))
