#!/usr/bin/env python3
"""Helpers of bench/run.sh: measures, records and renders (standard library only).

  report.py cpu PID                                  CPU ticks (user + system) of a process
  report.py rss PID                                  resident set size, KiB
  report.py wrk RESULTS TABLE NAME WRK_OUT PID TICKS [CEILING_OF]
                                                     one wrk run → a JSON line in RESULTS
  report.py flow RESULTS TABLE NAME LOAD_OUT PID TICKS REQUESTS_PER_FLOW [CEILING_OF]
                                                     one checkout_load run → a JSON line
  report.py fetch RESULTS TABLE NAME URL PID COUNT CONCURRENCY [TOKEN] [CEILING_OF]
                                                     COUNT GETs (rows wrk cannot bound by count)
  report.py note RESULTS TABLE NAME TEXT             a row that could not be measured
  report.py copy RESULTS TABLE NAME TO_TABLE         shows a row and its ceiling in another table
  report.py orders BASE TOKEN VARIANT TARGET         places orders for a customer until TARGET
  report.py render RESULTS > section.md              the tables, in Markdown
  report.py splice FILE SECTION                      replaces FILE's marked section by SECTION
"""

import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the line; here after the command name.
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ms(value, unit):
    v = float(value)
    return {"us": v / 1000, "ms": v, "s": v * 1000}[unit]


def parse_wrk(text):
    def latency(p):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\b" % p, text, re.M)
        return ms(*m.groups()) if m else None

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50": latency(50),
        "p99": latency(99),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def record(results, row):
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")


def cmd_wrk(results, table, name, out, pid, ticks_before, ceiling_of=None):
    row = parse_wrk(open(out).read())
    ticks = cpu_ticks(pid) - int(ticks_before)
    row.update(
        table=table,
        name=name,
        rss_mib=rss_kib(pid) / 1024,
        cpu_us=(ticks / TICKS * 1e6 / row["requests"]) if row["requests"] else None,
        cpu_resolution_us=(1e6 / TICKS / row["requests"]) if row["requests"] else None,
        ceiling_of=ceiling_of,
    )
    record(results, row)
    print(f"  {name}: {row['rps']:,.0f} req/s, p50 {row['p50']} ms, p99 {row['p99']} ms", file=sys.stderr)


def cmd_flow(results, table, name, out, pid, ticks_before, per_flow, ceiling_of=None, statements=None):
    text = open(out).read()
    m = re.search(
        r"\| ([\d.]+) orders/s \| p50 ([\d.]+) ms \| p99 ([\d.]+) ms \| (\d+) orders, (\d+) errors", text
    )
    if not m:
        raise SystemExit(f"checkout_load printed no result:\n{text}")
    per_flow = int(per_flow)
    orders = int(m.group(4))
    ticks = cpu_ticks(pid) - int(ticks_before)
    row = {
        "table": table,
        "name": name,
        "flows": float(m.group(1)),
        "rps": float(m.group(1)) * per_flow,
        "requests": orders * per_flow,
        "p50": float(m.group(2)),
        "p99": float(m.group(3)),
        "non2xx": int(m.group(5)),
        "rss_mib": rss_kib(pid) / 1024,
        "cpu_us": (ticks / TICKS * 1e6 / (orders * per_flow)) if orders else None,
        "per_flow": per_flow,
        "ceiling_of": ceiling_of,
        "statements": (int(statements) / orders) if statements and orders else None,
    }
    record(results, row)
    print(f"  {name}: {row['flows']:,.0f} orders/s, p50 {row['p50']} ms, p99 {row['p99']} ms", file=sys.stderr)


def cmd_fetch(results, table, name, url, pid, count, concurrency, token="", ceiling_of=""):
    """COUNT GETs of URL on CONCURRENCY keep-alive connections, for rows wrk cannot bound by
    request count (an export records itself, so each one makes the next larger)."""
    parsed = urllib.parse.urlparse(url)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    count, concurrency = int(count), int(concurrency)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    latencies, failures, guard = [], [0], threading.Lock()

    def worker(n):
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        mine, bad = [], 0
        for _ in range(n):
            t = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - t) * 1000)
            bad += response.status >= 300
        with guard:
            latencies.extend(mine)
            failures[0] += bad

    shares = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
    ticks = cpu_ticks(pid)
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ticks = cpu_ticks(pid) - ticks
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else None

    row = {
        "table": table,
        "name": name,
        "rps": count / elapsed,
        "requests": count,
        "p50": pct(0.5),
        "p99": pct(0.99),
        "non2xx": failures[0],
        "rss_mib": rss_kib(pid) / 1024,
        "cpu_us": ticks / TICKS * 1e6 / count,
        "cpu_resolution_us": 1e6 / TICKS / count,
        "ceiling_of": ceiling_of or None,
    }
    record(results, row)
    print(f"  {name}: {row['rps']:,.0f} req/s, p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms", file=sys.stderr)


def cmd_note(results, table, name, text):
    record(results, {"table": table, "name": name, "note": text})


def cmd_copy(results, table, name, to_table):
    """Shows a row (and its ceiling) in another table too."""
    rows = [json.loads(line) for line in open(results) if line.strip()]
    for r in rows:
        if r["table"] == table and r["name"] in (name, f"ceiling: {name}"):
            record(results, dict(r, table=to_table))


def request(conn, method, path, token=None, body=None, headers=None):
    h = {"content-type": "application/json"}
    if token:
        h["authorization"] = f"Bearer {token}"
    h.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data else None


def cmd_orders(base, token, variant, target):
    """Checkouts for one customer until they have TARGET orders (sequential, keep-alive)."""
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    have = 0
    cursor = None
    while True:  # count the customer's orders
        page = request(conn, "GET", "/v1/orders?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""), token)
        have += len(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    body = {
        "contact_email": "bench-customer@example.com",
        "shipping_address": {"name": "Bench Customer", "line1": "1 Bench Street", "city": "Lyon",
                             "postal_code": "69001", "country": "FR"},
        "accepted_policy_version": 1,
    }
    for n in range(have, int(target)):
        cart = request(conn, "POST", "/v1/carts", token, {})
        request(conn, "POST", f"/v1/carts/{cart['id']}/items", token, {"variant_id": variant, "quantity": 1})
        request(conn, "POST", f"/v1/carts/{cart['id']}/checkout", token, body,
                {"idempotency-key": f"bench-order-{n}-{cart['id']}"})


def fmt_int(v):
    return f"{v:,.0f}"


def fmt_ms(v):
    return "?" if v is None else (f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms")


def fmt_cpu(v, resolution=None):
    """CPU time per request; the kernel counts in ticks (10 ms), so a short row that used
    less than one tick shows the bound."""
    if v is None:
        return "?"
    if v == 0 and resolution:
        return f"< {resolution:,.0f} µs"
    return f"{v:,.0f} µs" if v >= 10 else f"{v:.1f} µs"


def median_round(records):
    """The record of the median round by req/s (a whole record, so its latencies, CPU and
    RSS belong together)."""
    return sorted(records, key=lambda r: r.get("rps", 0))[len(records) // 2]


def ratios(rows, ceilings):
    """Per-round ratios: each round of a row against the ceiling measured just before it."""
    return sorted(100 * r["rps"] / c["rps"] for r, c in zip(rows, ceilings) if c["rps"])


def cmd_render(results):
    rows = [json.loads(line) for line in open(results) if line.strip()]
    # Rounds of one row (bench/run.sh ROUNDS) share its table and name, in the order run.
    rounds = {}
    for r in rows:
        rounds.setdefault((r["table"], r["name"]), []).append(r)
    tables = []
    for r in rows:
        if r["table"] not in tables:
            tables.append(r["table"])
    out = []
    for table in tables:
        title, _, kind = table.partition("|")
        out.append(f"### {title}\n")
        names = []
        for r in rows:
            if r["table"] == table and not r["name"].startswith("ceiling:") and r["name"] not in names:
                names.append(r["name"])
        trs = [median_round(rounds[(table, n)]) for n in names]
        if kind == "scale":
            out.append("| scenario | req/s | p50 | p99 | CPU/request | RSS | errors |")
            out.append("|---|---|---|---|---|---|---|")
            for r in trs:
                if "note" in r:
                    out.append(f"| {r['name']} | {r['note']} | | | | | |")
                    continue
                out.append(
                    f"| {r['name']} | {fmt_int(r['rps'])} | {fmt_ms(r['p50'])} | {fmt_ms(r['p99'])} | "
                    f"{fmt_cpu(r['cpu_us'], r.get('cpu_resolution_us'))} | {r['rss_mib']:.0f} MiB | {r['non2xx'] + r.get('socket_errors', 0)} |"
                )
        else:
            out.append(
                "| scenario | req/s | p50 | p99 | CPU/request | RSS | errors "
                "| ceiling req/s (p50, CPU/request, same body) | ratio |"
            )
            out.append("|---|---|---|---|---|---|---|---|---|")
            for r in trs:
                if "note" in r:
                    out.append(f"| {r['name']} | {r['note']} | | | | | | | |")
                    continue
                ceilings = rounds.get((table, r["ceiling_of"])) if r.get("ceiling_of") else None
                rps = fmt_int(r["rps"])
                if "flows" in r:
                    per_order = f", {r['statements']:.1f} statements/order" if r.get("statements") else ""
                    rps = f"{fmt_int(r['rps'])} ({fmt_int(r['flows'])} orders/s{per_order})"
                ceiling = ratio = "—"
                if ceilings:
                    c = median_round(ceilings)
                    ceiling = f"{fmt_int(c['rps'])} ({fmt_ms(c['p50'])}, {fmt_cpu(c['cpu_us'], c.get('cpu_resolution_us'))})"
                    each = ratios(rounds[(table, r["name"])], ceilings)
                    if not each:
                        ratio = "?"
                    elif len(each) == 1:
                        ratio = f"{each[0]:.0f} %"
                    else:
                        ratio = f"{each[len(each) // 2]:.0f} % ({each[0]:.0f}–{each[-1]:.0f})"
                out.append(
                    f"| {r['name']} | {rps} | {fmt_ms(r['p50'])} | {fmt_ms(r['p99'])} | {fmt_cpu(r['cpu_us'], r.get('cpu_resolution_us'))} | "
                    f"{r['rss_mib']:.0f} MiB | {r['non2xx'] + r.get('socket_errors', 0)} | {ceiling} | {ratio} |"
                )
        out.append("")
    print("\n".join(out))


BEGIN = "<!-- bench/run.sh: begin (generated; edit the script, not this section) -->"
END = "<!-- bench/run.sh: end -->"


def cmd_splice(path, section_path):
    text = open(path).read()
    section = open(section_path).read().strip("\n")
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main(argv):
    commands = {
        "cpu": lambda pid: print(cpu_ticks(pid)),
        "rss": lambda pid: print(rss_kib(pid)),
        "wrk": cmd_wrk,
        "flow": cmd_flow,
        "note": cmd_note,
        "fetch": cmd_fetch,
        "copy": cmd_copy,
        "orders": cmd_orders,
        "render": cmd_render,
        "splice": cmd_splice,
    }
    if len(argv) < 2 or argv[1] not in commands:
        raise SystemExit(__doc__)
    commands[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
