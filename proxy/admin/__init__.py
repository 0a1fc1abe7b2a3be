"""The admin surface: the proxy's own routes (health, metrics, beacon), the admin API and the
merchandiser page, who may use them, the record of what they did, and the deployment-wide admin
state in Redis.

Imported by ``proxy.app`` (which mounts it) and never by the engine: a shopper's request reaches
these modules only when it is addressed to ``/_intentgate/``.
"""
