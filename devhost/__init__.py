"""devhost: a local stand-in for the Azure Functions host, for development and tests.

Core Tools cannot be installed everywhere the project runs, so devhost plays the platform
for the parts Mailroom uses: HTTP triggers with function keys and App Service
Authentication headers, queue triggers on Azure Storage (Azurite), and timer triggers.
Run it with `python -m devhost`; tests drive `Host` directly.
"""

from devhost.catalog import index_app, load_function_app
from devhost.host import Host

__all__ = ["Host", "index_app", "load_function_app"]
