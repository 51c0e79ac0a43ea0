"""PNG charts of the tables in bench/RESULTS.md, linked from it, so a reader sees the comparison
at a glance: per throughput section, req/s and p99 latency per payload and server (one row of
panels per workers x concurrency), and memory (RSS, PSS) per server.

    .venv/bin/python bench/charts.py [--results bench/RESULTS.md] [--out bench/charts]

`make bench` runs it after bench/run.py; it reads the Markdown tables, so it can redraw the
charts of any results file without running the benchmark again.
"""
import argparse
import os
import re
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
MARK_BEGIN, MARK_END = "<!-- charts:begin -->", "<!-- charts:end -->"
COLOURS = {"modelkiln": "#1565c0", "seldon": "#c62828", "mlserver": "#6a1b9a", "bare": "#757575",
           "modelkiln-nogrpc": "#64b5f6"}
OTHER_COLOURS = ["#2e7d32", "#ef6c00", "#00838f", "#8d6e63"]


def tables(text):
    """[(section title, header, rows)] of every Markdown table under a ### or ## heading."""
    found, title, lines = [], None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^#{2,3} (.+)$", line)
        if heading:
            title = heading.group(1).strip()
        elif line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1]):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            found.append((title, header, rows))
            continue
        i += 1
    return found


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def slug(title):
    return re.sub(r"[^a-z0-9]+", "-", title.split("(")[0].lower()).strip("-")


def colour(server, servers):
    if server in COLOURS:
        return COLOURS[server]
    others = [s for s in servers if s not in COLOURS]
    return OTHER_COLOURS[others.index(server) % len(OTHER_COLOURS)]


def grouped_bars(ax, payloads, servers, value, ylabel, title):
    width = 0.8 / max(len(servers), 1)
    for k, server in enumerate(servers):
        xs, ys = [], []
        for j, payload in enumerate(payloads):
            v = value(payload, server)
            if v is not None:
                xs.append(j + (k - (len(servers) - 1) / 2) * width)
                ys.append(v)
        ax.bar(xs, ys, width, label=server, color=colour(server, servers))
    ax.set_xticks(range(len(payloads)))
    ax.set_xticklabels(payloads, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def throughput_chart(plt, title, header, rows, path):
    col = {name: header.index(name) for name in ("workers", "conc", "payload", "server", "req/s",
                                                 "p99 ms")}
    data, combos, payloads, servers = {}, [], [], []
    for row in rows:
        combo = (row[col["workers"]], row[col["conc"]])
        payload, server = row[col["payload"]], row[col["server"]]
        rps, p99 = number(row[col["req/s"]]), number(row[col["p99 ms"]])
        if rps is None:
            continue  # n/a: the server cannot run this payload
        data[combo, payload, server] = (rps, p99)
        for seen, item in ((combos, combo), (payloads, payload), (servers, server)):
            if item not in seen:
                seen.append(item)
    if not data:
        return False
    fig, axes = plt.subplots(len(combos), 2, figsize=(12, 3.2 * len(combos)), squeeze=False)
    for r, combo in enumerate(combos):
        label = "workers %s, concurrency %s" % combo
        for c, (index, unit, what) in enumerate(((0, "req/s", "req/s (higher is better)"),
                                                 (1, "p99 ms", "p99 latency (lower is better)"))):
            grouped_bars(axes[r][c], payloads, servers,
                         lambda p, s, i=index: (data.get((combo, p, s)) or (None, None))[i],
                         unit, "%s: %s" % (label, what))
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def memory_chart(plt, header, rows, path):
    col = {name: header.index(name) for name in ("server", "workers", "RSS MiB (sum)",
                                                 "PSS MiB (sum)")}
    labels = ["%s %s" % (row[col["server"]], row[col["workers"]]) for row in rows]
    servers = [row[col["server"]] for row in rows]
    fig, ax = plt.subplots(figsize=(12, 0.45 * len(rows) + 1.5))
    ys = range(len(rows))
    rss = [number(row[col["RSS MiB (sum)"]]) or 0 for row in rows]
    pss = [number(row[col["PSS MiB (sum)"]]) or 0 for row in rows]
    unique = list(dict.fromkeys(servers))
    ax.barh([y + 0.2 for y in ys], rss, 0.4, color=[colour(s, unique) for s in servers],
            label="RSS (sum of processes)")
    ax.barh([y - 0.2 for y in ys], pss, 0.4, color=[colour(s, unique) for s in servers],
            alpha=0.45, label="PSS (shared pages split)")
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("MiB after start (lower is better)")
    ax.set_title("Memory per server and worker count", fontsize=11)
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def jobs_chart(plt, header, rows, path):
    """Rows per second of each file/batch job tool (bench/jobs.py)."""
    tool, rate = header.index("tool"), header.index("rows/s (median)")
    names = [row[tool] for row in rows]
    values = [number(row[rate].replace(",", "")) or 0 for row in rows]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.5))
    palette = ["#1565c0" if name.startswith("modelkiln") else "#c62828"
               if name.startswith("seldon") else "#6a1b9a" for name in names]
    ax.barh(range(len(rows)), values, 0.6, color=palette)
    for y, value in enumerate(values):
        ax.text(value, y, " {:,.0f}".format(value), va="center", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("rows/s, 100,000-row CSV, start-up included (higher is better)")
    ax.set_title("File and batch jobs", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def render(results, out_dir):
    """Draw the charts of ``results``; returns [(title, file)] in the order of the tables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(results) as f:
        text = f.read()
    os.makedirs(out_dir, exist_ok=True)
    drawn = []
    for title, header, rows in tables(text):
        if {"req/s", "p99 ms", "payload", "server"} <= set(header):
            path = os.path.join(out_dir, "%s.png" % slug(title))
            if throughput_chart(plt, title, header, rows, path):
                drawn.append((title.split(" (")[0], path))
        elif {"tool", "rows/s (median)"} <= set(header):
            path = os.path.join(out_dir, "jobs.png")
            jobs_chart(plt, header, rows, path)
            drawn.append(("File and batch jobs", path))
        elif "RSS MiB (sum)" in header:
            path = os.path.join(out_dir, "memory.png")
            memory_chart(plt, header, rows, path)
            drawn.append(("Memory", path))
    return drawn


def link_section(drawn, results):
    base = os.path.dirname(os.path.abspath(results))
    lines = [MARK_BEGIN, "## Charts", "",
             "Drawn from the tables below by `bench/charts.py` (`make bench` runs it).", ""]
    for title, path in drawn:
        lines.append("- [%s](%s)" % (title, os.path.relpath(path, base)))
    lines.append(MARK_END)
    return "\n".join(lines)


def write_links(results, drawn):
    """Put the chart links after the Targets section, replacing earlier ones."""
    with open(results) as f:
        text = f.read()
    section = link_section(drawn, results)
    if MARK_BEGIN in text and MARK_END in text:
        start, end = text.index(MARK_BEGIN), text.index(MARK_END) + len(MARK_END)
        text = text[:start] + section + text[end:]
    else:
        anchor = text.find("\n## Throughput and latency")
        anchor = len(text) if anchor < 0 else anchor
        text = text[:anchor] + "\n" + section + "\n" + text[anchor:]
    with open(results, "w") as f:
        f.write(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "charts"))
    args = ap.parse_args(argv)
    drawn = render(args.results, args.out)
    if not drawn:
        print("no throughput or memory table in %s" % args.results, file=sys.stderr)
        return 1
    write_links(args.results, drawn)
    for title, path in drawn:
        print("%s: %s" % (title, os.path.relpath(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
