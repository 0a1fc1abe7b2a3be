"""The bundled demo storefront (``intentgate demo-shop``): the upstream for the demo, the tests
and the load tests."""

from __future__ import annotations

from proxy.demo_shop.app import create_demo_shop

__all__ = ["create_demo_shop"]
