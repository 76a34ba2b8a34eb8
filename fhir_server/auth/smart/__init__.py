"""SMART App Launch 2.x / Backend Services authorisation server (see `router.build_smart_router`)."""

from .config import SmartConfig, security_extension, smart_configuration
from .router import build_smart_router, build_token_service

__all__ = [
    "SmartConfig",
    "build_smart_router",
    "build_token_service",
    "security_extension",
    "smart_configuration",
]
