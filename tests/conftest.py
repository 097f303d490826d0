"""Test-wide setup. HF libraries read HF_HUB_OFFLINE once, at import: set it before any."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# The fast random-weight model, unless a test asks for another (the product's default is
# builtin:shapes; tests that need a model that follows prompts name it).
os.environ["MJ_MODEL"] = "builtin:tiny"

# Processes the tests start (`mjbot serve`, `mjbot imagine`) run this checkout's code, even
# when the shared virtualenv's editable install points at another checkout.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_ROOT, os.environ.get("PYTHONPATH", "")) if p
)
