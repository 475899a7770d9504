"""The benchmark's deploy with pyinfra's operations, as a pyinfra user writes it.

The inventory gives each host `base_dir`; the bench passes `run`, `release`
(UTC time and short sha), `revision` and `archive` with `--data`.
"""

from io import StringIO

from pyinfra import host
from pyinfra.operations import files, server

deploy_to = f"{host.data.base_dir}/{host.data.run}"
release_path = f"{deploy_to}/releases/{host.data.release}"
shared_path = f"{deploy_to}/shared"
keep_releases = 3

for path in (release_path, f"{shared_path}/media", f"{shared_path}/db"):
    files.directory(name="release and shared directories", path=path)

files.file(name="shared .env", path=f"{shared_path}/.env", mode="600")

files.put(
    name="upload the tree",
    src=host.data.archive,
    dest=f"{release_path}.tar.gz",
)
server.shell(
    name="unpack the tree",
    commands=[f"tar -xzf {release_path}.tar.gz -C {release_path} && rm {release_path}.tar.gz"],
)
files.put(
    name="REVISION",
    src=StringIO(f"{host.data.revision}\n"),
    dest=f"{release_path}/REVISION",
)

for name in (".env", "media", "db"):
    files.link(name="shared links", path=f"{release_path}/{name}", target=f"{shared_path}/{name}")

server.shell(
    name="migrate",
    commands=[f"cd {release_path} && /usr/bin/python3 manage.py migrate"],
    _run_once=True,
)
server.shell(
    name="collectstatic",
    commands=[f"cd {release_path} && /usr/bin/python3 manage.py collectstatic"],
)
# files.link replaces a link with rm + ln: not atomic, so the switch is a
# new link renamed over the old.
server.shell(
    name="switch current",
    commands=[f"ln -sfn {release_path} {deploy_to}/current.new && mv -T {deploy_to}/current.new {deploy_to}/current"],
)
server.shell(
    name="cleanup old releases",
    commands=[f"cd {deploy_to} && ls -1d releases/* | head -n -{keep_releases} | xargs -r rm -rf"],
)
