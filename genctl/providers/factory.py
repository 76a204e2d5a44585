"""`get_provider`: a provider's request builder and response parser, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from genctl.providers import registry
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider

if TYPE_CHECKING:
    from genctl.providers.base import Provider
    from genctl.settings import ProviderSettings

_BUILDERS: dict[str, Callable[[ProviderSettings], Provider]] = {
    FalProvider.name: FalProvider.from_settings,
    ReplicateProvider.name: ReplicateProvider.from_settings,
}


def get_provider(name: str, settings: ProviderSettings) -> Provider:
    """The provider called `name`, built from its settings (URLs); usage.invalid naming the choices."""
    build = _BUILDERS.get(name)
    if build is None:
        raise registry.unknown(name)
    return build(settings)
