"""`steps` trivial operations (the bench passes `steps` with `--data`)."""

from pyinfra import host
from pyinfra.operations import server

for i in range(int(host.data.steps)):
    server.shell(name=f"step {i}", commands=["true"])
