"""Prints one OpenAPI linter's findings grouped by rule, and says whether they pass.

    python lint_report.py spec-validator openapi/openapi.json
    python lint_report.py redocly target/ci/redocly.json     (redocly lint --format=json)
    python lint_report.py spectral target/ci/spectral.json   (spectral lint -f json)

Each group is one rule at one severity, with its count and every place it was found, written
as the operation it belongs to ("GET /v1/orders/{number} 200") where there is one. Exits 1 when
there is an error or a warning (waivers live in the linters' own configuration, with their
reasons, so what reaches this report counts), 0 otherwise.
"""

import collections
import json
import sys

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def place(segments):
    """A readable place for a path into the document: 'POST /v1/carts 201 …' or '#/…'."""
    segments = [str(s) for s in segments]
    if len(segments) >= 3 and segments[0] == "paths" and segments[2] in METHODS:
        where = f"{segments[2].upper()} {segments[1]}"
        rest = segments[3:]
        if len(rest) >= 2 and rest[0] == "responses":
            where += f" {rest[1]}"
            rest = rest[2:]
        elif rest[:1] == ["responses"]:
            where += " (responses)"
            rest = rest[1:]
        return where + ("" if not rest else " at " + "/".join(rest))
    if len(segments) == 2 and segments[0] == "paths":
        return f"path {segments[1]}"
    return "#/" + "/".join(segments) if segments else "#"


def pointer_segments(pointer):
    pointer = pointer.split("#", 1)[-1]
    return [unescape(p) for p in pointer.split("/") if p]


def spec_validator(document_path):
    from openapi_spec_validator import OpenAPIV31SpecValidator, OpenAPIV32SpecValidator

    with open(document_path, encoding="utf-8") as f:
        document = json.load(f)
    version = str(document.get("openapi", ""))
    validators = {"3.1": OpenAPIV31SpecValidator, "3.2": OpenAPIV32SpecValidator}
    validator = validators.get(version[:3])
    if validator is None:
        return [("error", "openapi-version", "#/openapi", f"not an OpenAPI 3.1 or 3.2 document: {version!r}")]
    return [
        ("error", "schema", place(list(e.absolute_path)), e.message)
        for e in validator(document).iter_errors()
    ]


def redocly(report_path):
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    found = []
    waived = report.get("totals", {}).get("ignored", 0)
    if waived:
        print(f"({waived} findings waived in .redocly.lint-ignore.yaml)")
    for problem in report["problems"]:
        if problem.get("ignored"):
            continue
        severity = {"warn": "warning"}.get(problem["severity"], problem["severity"])
        location = problem.get("location") or [{}]
        pointer = location[0].get("pointer", "#/")
        found.append((severity, problem["ruleId"], place(pointer_segments(pointer)), problem["message"]))
    return found


def spectral(report_path):
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    names = {0: "error", 1: "warning", 2: "info", 3: "hint"}
    return [
        (names.get(p["severity"], str(p["severity"])), p["code"], place(p["path"]), p["message"])
        for p in report
    ]


def main(argv):
    if len(argv) != 3 or argv[1] not in ("spec-validator", "redocly", "spectral"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    tool, path = argv[1], argv[2]
    found = {"spec-validator": spec_validator, "redocly": redocly, "spectral": spectral}[tool](path)

    groups = collections.defaultdict(list)
    for severity, rule, where, message in found:
        groups[(severity, rule, message)].append(where)
    order = {"error": 0, "warning": 1, "info": 2, "hint": 3}
    for (severity, rule, message), places in sorted(
        groups.items(), key=lambda g: (order.get(g[0][0], 9), g[0][1], -len(g[1]), g[0][2])
    ):
        print(f"{severity} {rule} ×{len(places)}: {message}")
        for where in sorted(places):
            print(f"    {where}")
    counts = collections.Counter(severity for severity, *_ in found)
    failing = counts["error"] + counts["warning"]
    summary = ", ".join(f"{counts[s]} {s}s" for s in ("error", "warning", "info", "hint") if counts[s])
    print(f"{tool}: {summary or 'no findings'} -> {'FAILED' if failing else 'ok'}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
