"""`triage serve`: the questionnaire as web pages, and an HTTP API (needs `triage[web]`).

Everything shown comes from the rule pack; the flow is `triage.core.flow`'s and the
results `triage.evaluate`'s. Nothing a person answers is kept on the server.
"""

from __future__ import annotations

INSTALL_HINT = "pip install 'triage[web]'"
"""How to install what `triage serve` needs."""
REQUIRED = ("starlette", "uvicorn", "jinja2", "python_multipart")
"""The modules `triage serve` needs (python-multipart is imported as `python_multipart`)."""

__all__ = ["INSTALL_HINT", "REQUIRED"]
