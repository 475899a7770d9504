"""A minimal Flask app that says which release it serves."""

import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)


def revision() -> str:
    path = Path(__file__).with_name("REVISION")
    return path.read_text().strip() if path.exists() else "unknown"


@app.get("/")
def index():
    return {"app": "flask-hello", "revision": revision(), "greeting": os.environ.get("GREETING", "hello")}
