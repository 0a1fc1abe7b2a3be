"""Locust load tests of shopper personas browsing the demo storefront through the proxy."""
