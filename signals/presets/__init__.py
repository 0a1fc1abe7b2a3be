"""Storefront route presets: one data module per platform, registered here by name.

Each module holds ``RULES``, a tuple of rule dicts in the ``signals.routes.RuleSpec`` shape; they
are validated and compiled by ``RouteTable.from_config``. Nothing here compiles or imports routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from signals.presets import (
    bigcommerce,
    demo,
    generic,
    magento,
    opencart,
    prestashop,
    sfra,
    shopify,
    shopware,
    woocommerce,
)

Rules = tuple[Mapping[str, Any], ...]

# Insertion order is the tie-break order of the "auto" preset (every platform together).
PRESET_RULES: Mapping[str, Rules] = MappingProxyType(
    {
        "demo": demo.RULES,
        "shopify": shopify.RULES,
        "magento": magento.RULES,
        "woocommerce": woocommerce.RULES,
        "bigcommerce": bigcommerce.RULES,
        "sfra": sfra.RULES,
        "prestashop": prestashop.RULES,
        "shopware": shopware.RULES,
        "opencart": opencart.RULES,
        "generic": generic.RULES,
    }
)

# Rules used only when a shop names the preset, left out of "auto": their shape also fits other
# platforms' pages.
EXPLICIT_RULES: Mapping[str, Rules] = MappingProxyType({
    "prestashop": prestashop.EXPLICIT_RULES,
})


def preset_rules(name: str) -> Rules:
    """The rules of preset ``name``; ``KeyError`` naming the known presets otherwise."""
    try:
        return PRESET_RULES[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r} (known: {', '.join(PRESET_RULES)})") from None
