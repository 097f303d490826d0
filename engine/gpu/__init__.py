"""The GPU side of protocol v1 (``engine.remote.wire``): the engine, served to a bot elsewhere.

* ``engine.gpu.service`` — runs wire requests on a local :class:`~engine.engine.Engine` and
  streams their events; 401/429 decisions.
* ``engine.gpu.http`` — that service as an aiohttp application (``mjbot gpu serve``; tests).
* ``engine.gpu.serve_app`` — the same service as a Ray Serve application (``mjbot gpu
  deploy``): replicas per GPU, models multiplexed, runs batched. Only this module imports Ray.
"""
