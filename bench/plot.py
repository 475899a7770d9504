"""Wall time of the full deploy against the number of hosts, one line per tool.

usage: plot.py results.json hosts.png   (results.json from benches/compare)
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "ferry": ("ferry", "#d62728", "o"),
    "openssh": ("OpenSSH script (floor)", "#7f7f7f", "s"),
    "pyinfra": ("pyinfra", "#1f77b4", "^"),
    "ansible-pipelining": ("Ansible, pipelining", "#2ca02c", "D"),
    "ansible": ("Ansible", "#98df8a", "v"),
}


def main(source, target):
    with open(source) as f:
        results = json.load(f)
    lines = {}
    for entry in results["deploy"]:
        row = entry["row"]
        if row["median_wall"] is not None:
            lines.setdefault(row["tool"], []).append((entry["hosts"], row["median_wall"]))
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for tool, (label, colour, marker) in STYLE.items():
        points = sorted(lines.get(tool, []))
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker=marker, color=colour, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hosts (sshd on loopback, 2 shared cores)")
    ax.set_ylabel("wall time of one deploy, s (median)")
    ax.set_title("The same Capistrano-style deploy, by tool")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
