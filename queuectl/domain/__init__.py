"""The pure core: job model, transitions, backoff, settings, ports and use cases.

Imports nothing outside the standard library (a unit test checks).
"""
