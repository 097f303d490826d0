"""The bot's side of GPU workers on other machines (the GPU side is ``engine.gpu``).

* ``engine.remote.wire`` — protocol version 1: a request and its images as JSON, the NDJSON
  events of a run, results (pure; no network).
* ``engine.remote.client`` — :class:`~engine.remote.client.ServeExecutor`: dispatches the fair
  scheduler's tickets to GPU services over aiohttp.
"""
