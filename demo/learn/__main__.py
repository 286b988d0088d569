"""Run Demo Learn: ``.venv/bin/python -m demo.learn`` (from the repository root)."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import uvicorn

from .app import ConfigError, create_app, load_config


def main() -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"Demo Learn: {exc}", file=sys.stderr)
        return 1
    # The port comes from base_url; a demo listens on loopback only.
    port = urlsplit(config.base_url).port or 80
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
