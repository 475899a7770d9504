"""A background worker, as a Procfile's `worker:` line runs it: every second
it writes which release it runs from into shared/worker.heartbeat."""

import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEAT = HERE.parent.parent / "shared" / "worker.heartbeat"

while True:
    BEAT.write_text(f"{HERE.name}\n")
    time.sleep(1)
