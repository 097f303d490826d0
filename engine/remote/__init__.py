"""GPU workers on other machines: the wire protocol, the service and the bot's client.

* ``engine.remote.wire`` — protocol version 1: a request and its images as JSON, the NDJSON
  events of a run, results (pure; no network).
* ``engine.remote.service`` — the GPU side: runs wire requests on a local
  :class:`~engine.engine.Engine` and streams their events; 401/429 decisions.
* ``engine.remote.http`` — that service as an aiohttp application (one GPU box, or tests).
* ``engine.remote.serve_app`` — the same service as a Ray Serve application (``mjbot gpu``):
  replicas per GPU, models multiplexed, requests batched. Only this module imports Ray.
* ``engine.remote.client`` — :class:`~engine.remote.client.ServeExecutor`, the bot's side.
"""
