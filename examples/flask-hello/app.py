"""A minimal Flask app that says which release it serves."""

import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)
HERE = Path(__file__).resolve().parent


@app.get("/")
def index():
    revision = HERE / "REVISION"
    return {
        "app": "flask-hello",
        "release": HERE.name,
        "revision": revision.read_text().strip() if revision.exists() else "unknown",
        "greeting": os.environ.get("GREETING", "hello"),
    }
