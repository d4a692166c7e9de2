"""The web dashboard: HTML pages, a JSON API under ``/api/`` and ``/metrics``.

Imported only by ``queuectl dashboard`` (and tests): Starlette, uvicorn,
Jinja2 and prometheus_client load nowhere else.
"""
