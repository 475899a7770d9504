"""A minimal Flask app that says which release it serves."""

import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)
# Signs sessions; from the 0600 .env that ferry writes from secrets/STAGE.yml.
app.secret_key = os.environ["SECRET_KEY"]
HERE = Path(__file__).resolve().parent


@app.get("/")
def index():
    revision = HERE / "REVISION"
    return {
        "app": "flask-hello",
        "release": HERE.name,
        "revision": revision.read_text().strip() if revision.exists() else "unknown",
    }
