"""The provider sandbox: RedFlag, Snappy and Parcelvoy as documented, over real HTTP.

Start it with ``SandboxServer(...).start()`` (see :mod:`integrations.sandbox.server`), with
``manage.py run_sandbox``, or with ``python -m integrations.sandbox``. Nothing here imports
Django.
"""
