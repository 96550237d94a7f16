"""Breaking changes between two OpenAPI 3.1 documents, and whether CHANGELOG.md owns up to them.

    python3 .ci/openapi_breaking.py openapi/released.json openapi/openapi.json --changelog CHANGELOG.md

What counts as breaking is written down in docs/versioning.md; this checks those rules:

- an operation (method and path, whatever its path parameters are called) removed;
- an operationId changed;
- a parameter removed or renamed, made required, or a new required one; its schema narrowed;
- a request body made required, or a request media type removed;
- a request property removed (the API refuses unknown fields), made required, or a new
  required one; a request type narrowed, an enum value removed or an enum imposed;
- a response status, response media type or response header removed;
- a response property removed or no longer required; a response type widened (a value of a
  type it never had, `null` included), an enum value removed, a union given a new member;
- an operation that took anonymous calls now requiring credentials;
- a named schema removed or renamed (generated clients name their types after it).

Component schemas are compared once each, under their own name, in every role they have
(request, response or both); inline schemas are compared under their operation.

Limits: members of a union (oneOf, anyOf) are compared by position; a $ref is followed to
#/components/schemas (and to #/components/parameters for parameters), nowhere else; response
headers are compared by name only; constraints other than type and enum (lengths, bounds,
patterns) are not compared.

Each change is printed with two names: what it is in (`POST /v1/carts` as the document writes
the path, or a schema's name) and what changed (operationId, parameter, property path, enum
value, status, header). With --changelog, every change must be named, both names, in one bullet
of the `### Breaking` list under `## [Unreleased]`; the exit code is 1 when one is not.
Without it, the changes are listed and the exit code is 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REQUEST, RESPONSE = "request", "response"


@dataclass(frozen=True, order=True)
class Change:
    subject: str  # the operation (`POST /v1/carts`) or the schema's name
    element: str  # what changed in it: operationId, parameter, property path, value, status…
    message: str

    def __str__(self) -> str:
        return f"{self.subject} | {self.element}: {self.message}"


def ref_name(schema: object) -> str | None:
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        prefix = "#/components/schemas/"
        if ref.startswith(prefix):
            return ref[len(prefix):].replace("~1", "/").replace("~0", "~")
    return None


def types_of(schema: dict) -> frozenset[str] | None:
    """The JSON types a schema admits, or None when it does not say."""
    if "const" in schema:
        return frozenset([json_type(schema["const"])])
    kind = schema.get("type")
    if kind is None:
        if isinstance(schema.get("enum"), list):
            return frozenset(json_type(v) for v in schema["enum"])
        return None
    kinds = frozenset([kind] if isinstance(kind, str) else kind)
    return kinds | {"integer"} if "number" in kinds else kinds


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def enum_of(schema: dict) -> frozenset[str] | None:
    if "const" in schema:
        return frozenset([json.dumps(schema["const"])])
    if isinstance(schema.get("enum"), list):
        return frozenset(json.dumps(v) for v in schema["enum"])
    return None


def show(value: str) -> str:
    """An enum value as written in JSON, strings without their quotes."""
    loaded = json.loads(value)
    return loaded if isinstance(loaded, str) else value


class Document:
    def __init__(self, raw: dict):
        self.raw = raw
        self.schemas: dict = raw.get("components", {}).get("schemas", {})
        self.operations: dict[tuple[str, str], tuple[str, dict, dict]] = {}
        for path, item in raw.get("paths", {}).items():
            for method in METHODS:
                if isinstance(item.get(method), dict):
                    key = (method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
                    self.operations[key] = (path, item, item[method])

    def resolve(self, schema: object, seen: tuple[str, ...] = ()) -> tuple[dict, tuple[str, ...]]:
        """Follows $ref to a component (with a guard against cycles); other refs stay as they are."""
        while (name := ref_name(schema)) is not None and name not in seen and name in self.schemas:
            seen = seen + (name,)
            schema = self.schemas[name]
        return (schema if isinstance(schema, dict) else {}), seen

    def view(self, schema: object, seen: tuple[str, ...] = ()) -> dict:
        """One schema with its allOf merged: types, enum, properties, required, items, members."""
        schema, seen = self.resolve(schema, seen)
        merged = {
            "types": types_of(schema),
            "enum": enum_of(schema),
            "properties": dict(schema.get("properties", {})),
            "required": set(schema.get("required", [])),
            "items": schema.get("items"),
            "additional": schema.get("additionalProperties"),
            "members": list(schema.get("oneOf", [])) + list(schema.get("anyOf", [])),
        }
        for part in schema.get("allOf", []):
            name = ref_name(part)
            if name in seen:
                continue
            sub = self.view(part, seen)
            merged["properties"] = {**sub["properties"], **merged["properties"]}
            merged["required"] |= sub["required"]
            merged["types"] = merged["types"] if merged["types"] is not None else sub["types"]
            merged["enum"] = merged["enum"] if merged["enum"] is not None else sub["enum"]
            merged["items"] = merged["items"] if merged["items"] is not None else sub["items"]
            merged["members"] = merged["members"] or sub["members"]
        if merged["types"] is None and merged["members"]:
            # A union admits what its members admit (`oneOf: [{$ref: Enum}, {type: null}]`).
            views = [self.view(member, seen) for member in merged["members"]]
            if all(v["types"] is not None for v in views):
                merged["types"] = frozenset().union(*(v["types"] for v in views))
            # ...and its values, when every member is an enum or null.
            enums = [v["enum"] if v["types"] != {"null"} else frozenset(["null"]) for v in views]
            if merged["enum"] is None and all(e is not None for e in enums):
                merged["enum"] = frozenset().union(*enums)
        return merged

    def refs_from(self, schema: object, found: set[str]) -> None:
        """Every component schema reachable from `schema`, added to `found`."""
        if isinstance(schema, dict):
            name = ref_name(schema)
            if name is not None and name not in found:
                found.add(name)
                self.refs_from(self.schemas.get(name), found)
            for value in schema.values():
                self.refs_from(value, found)
        elif isinstance(schema, list):
            for value in schema:
                self.refs_from(value, found)

    def roles(self) -> dict[str, set[str]]:
        """For each component schema, whether requests, responses or both use it."""
        request: set[str] = set()
        response: set[str] = set()
        for path, item, operation in self.operations.values():
            for parameter in parameters(self, item, operation).values():
                self.refs_from(parameter.get("schema"), request)
            self.refs_from(operation.get("requestBody"), request)
            self.refs_from(operation.get("responses"), response)
        return {
            name: {role for role, used in ((REQUEST, request), (RESPONSE, response)) if name in used}
            for name in self.schemas
        }


def parameters(document: Document, item: dict, operation: dict) -> dict[tuple[str, str], dict]:
    """An operation's parameters (its path item's too), by (location, name)."""
    found: dict[tuple[str, str], dict] = {}
    for parameter in item.get("parameters", []) + operation.get("parameters", []):
        if "$ref" in parameter:
            name = parameter["$ref"].rsplit("/", 1)[-1]
            parameter = document.raw.get("components", {}).get("parameters", {}).get(name, {})
        found[(parameter.get("in", "?"), parameter.get("name", "?"))] = parameter
    return found


def anonymous(document: Document, operation: dict) -> bool:
    security = operation.get("security", document.raw.get("security"))
    return security is None or security == [] or {} in security


class Comparison:
    def __init__(self, old: Document, new: Document):
        self.old, self.new = old, new
        self.changes: set[Change] = set()

    def add(self, subject: str, element: str, message: str) -> None:
        self.changes.add(Change(subject, element, message))

    def schema(self, subject: str, path: str, old: object, new: object, role: str,
               pairs: frozenset[tuple[str, str]] = frozenset(), own: bool = False) -> None:
        """Compares two schemas in one role. A component named alike on both sides is left to
        its own comparison, under its own name (`own`: this is that comparison)."""
        old_name, new_name = ref_name(old), ref_name(new)
        if not own and old_name is not None and old_name == new_name and old_name in self.new.schemas:
            return
        pair = (old_name or "", new_name or "")
        if pair != ("", ""):
            if pair in pairs:
                return
            pairs = pairs | {pair}
        before, after = self.old.view(old), self.new.view(new)
        where = path or "(the schema itself)"

        old_types, new_types = before["types"], after["types"]
        if role == REQUEST and new_types is not None and (old_types is None or old_types - new_types):
            lost = "any type" if old_types is None else ", ".join(sorted(old_types - new_types))
            self.add(subject, where, f"request type narrowed: {lost} no longer accepted")
        if role == RESPONSE and old_types is not None and (new_types is None or new_types - old_types):
            gained = "any type" if new_types is None else ", ".join(sorted(new_types - old_types))
            self.add(subject, where, f"response type widened: may now be {gained}")

        old_enum, new_enum = before["enum"], after["enum"]
        if old_enum is not None and new_enum is not None:
            for value in sorted(old_enum - new_enum):
                self.add(subject, show(value), f"enum value removed at {where}")
        elif role == REQUEST and old_enum is None and new_enum is not None:
            self.add(subject, where, "request enum imposed where any value was accepted")

        self.properties(subject, path, before, after, role, pairs)
        if before["items"] is not None and after["items"] is not None:
            self.schema(subject, join(path, "[]"), before["items"], after["items"], role, pairs)
        if isinstance(before["additional"], dict) and isinstance(after["additional"], dict):
            self.schema(subject, join(path, "{}"), before["additional"], after["additional"], role, pairs)

        old_members, new_members = before["members"], after["members"]
        for index, (o, n) in enumerate(zip(old_members, new_members)):
            self.schema(subject, join(path, f"oneOf[{index}]"), o, n, role, pairs)
        if role == REQUEST and len(new_members) < len(old_members) and new_members:
            self.add(subject, where, f"request union lost members: {len(old_members)} -> {len(new_members)}")
        if role == RESPONSE and len(new_members) > len(old_members) and old_members:
            self.add(subject, where, f"response union gained members: {len(old_members)} -> {len(new_members)}")

    def properties(self, subject: str, path: str, before: dict, after: dict, role: str,
                   pairs: frozenset[tuple[str, str]]) -> None:
        old_props, new_props = before["properties"], after["properties"]
        for name, old_schema in sorted(old_props.items()):
            at = join(path, name)
            if name not in new_props:
                self.add(subject, at, f"{role} property removed")
                continue
            was, now = name in before["required"], name in after["required"]
            if role == REQUEST and now and not was:
                self.add(subject, at, "request property became required")
            if role == RESPONSE and was and not now:
                self.add(subject, at, "response property no longer always present")
            self.schema(subject, at, old_schema, new_props[name], role, pairs)
        if role == REQUEST and old_props:
            for name in sorted(set(new_props) - set(old_props)):
                if name in after["required"]:
                    self.add(subject, join(path, name), "new required request property")

    def operation(self, key: tuple[str, str]) -> None:
        old_path, old_item, old_op = self.old.operations[key]
        subject = f"{key[0]} {old_path}"
        if key not in self.new.operations:
            self.add(subject, old_op.get("operationId", subject), "operation removed")
            return
        new_path, new_item, new_op = self.new.operations[key]

        old_id, new_id = old_op.get("operationId"), new_op.get("operationId")
        if old_id is not None and old_id != new_id:
            self.add(subject, old_id, f"operationId changed: {old_id} -> {new_id}")
        if anonymous(self.old, old_op) and not anonymous(self.new, new_op):
            self.add(subject, "security", "anonymous calls now refused: credentials required")

        old_params = parameters(self.old, old_item, old_op)
        new_params = parameters(self.new, new_item, new_op)
        old_names = re.findall(r"\{([^}]*)\}", old_path)
        new_names = re.findall(r"\{([^}]*)\}", new_path)
        for before, after in zip(old_names, new_names):
            if before != after:
                self.add(subject, before, f"path parameter renamed: {before} -> {after}")
        renamed = dict(zip(old_names, new_names))
        for (where, name), parameter in sorted(old_params.items()):
            current = new_params.get((where, renamed.get(name, name) if where == "path" else name))
            if current is None:
                self.add(subject, name, f"{where} parameter removed")
                continue
            if current.get("required") and not parameter.get("required"):
                self.add(subject, name, f"{where} parameter became required")
            self.schema(subject, name, parameter.get("schema"), current.get("schema"), REQUEST)
        kept = {(w, renamed.get(n, n) if w == "path" else n) for w, n in old_params}
        for (where, name), parameter in sorted(new_params.items()):
            if (where, name) not in kept and parameter.get("required"):
                self.add(subject, name, f"new required {where} parameter")

        self.request_body(subject, old_op.get("requestBody"), new_op.get("requestBody"))
        self.responses(subject, old_op.get("responses", {}), new_op.get("responses", {}))

    def request_body(self, subject: str, old: dict | None, new: dict | None) -> None:
        if new is None:
            return
        if new.get("required") and not (old or {}).get("required"):
            self.add(subject, "request body", "request body became required")
        if old is None:
            return
        old_content, new_content = old.get("content", {}), new.get("content", {})
        for media, entry in sorted(old_content.items()):
            if media not in new_content:
                self.add(subject, media, "request media type no longer accepted")
                continue
            self.schema(subject, "", entry.get("schema"), new_content[media].get("schema"), REQUEST)

    def responses(self, subject: str, old: dict, new: dict) -> None:
        for status, response in sorted(old.items()):
            if status not in new:
                self.add(subject, status, "response status removed")
                continue
            current = new[status]
            for header in sorted(response.get("headers", {})):
                if header.lower() not in {h.lower() for h in current.get("headers", {})}:
                    self.add(subject, header, f"response header removed from {status}")
            old_content, new_content = response.get("content", {}), current.get("content", {})
            for media, entry in sorted(old_content.items()):
                if media not in new_content:
                    self.add(subject, media, f"response media type removed from {status}")
                    continue
                self.schema(subject, "", entry.get("schema"), new_content[media].get("schema"), RESPONSE)

    def run(self) -> list[Change]:
        for key in sorted(self.old.operations):
            self.operation(key)
        old_roles, new_roles = self.old.roles(), self.new.roles()
        for name in sorted(self.old.schemas):
            if name not in self.new.schemas:
                self.add(name, name, "schema removed or renamed (generated clients name types after it)")
                continue
            for role in sorted(old_roles.get(name, set()) | new_roles.get(name, set())):
                ref = {"$ref": f"#/components/schemas/{name}"}
                self.schema(name, "", ref, ref, role, own=True)
        return sorted(self.changes)


def join(path: str, name: str) -> str:
    if not path:
        return name
    return f"{path}{name}" if name == "[]" else f"{path}.{name}"


def compare(old: dict, new: dict) -> list[Change]:
    return Comparison(Document(old), Document(new)).run()


# --- CHANGELOG.md ---------------------------------------------------------------------------

def breaking_entries(changelog: str) -> list[str]:
    """The bullets of `### Breaking` under `## [Unreleased]`, each joined onto one line."""
    section = re.search(r"^## \[Unreleased\][^\n]*\n(.*?)(?=^## |\Z)", changelog, re.M | re.S)
    if not section:
        return []
    breaking = re.search(r"^### Breaking[^\n]*\n(.*?)(?=^### |\Z)", section.group(1), re.M | re.S)
    if not breaking:
        return []
    entries: list[str] = []
    for line in breaking.group(1).splitlines():
        if re.match(r"^\s*[-*] ", line):
            entries.append(line.strip()[2:])
        elif line.strip() and entries:
            entries[-1] += " " + line.strip()
    return entries


def names(text: str, name: str) -> bool:
    """Whether `text` names `name` as a whole: not as part of a longer identifier or path."""
    return re.search(rf"(?<![\w/{{-]){re.escape(name)}(?![\w/{{-])", text) is not None


def acknowledged(change: Change, entries: list[str]) -> bool:
    return any(names(entry, change.subject) and names(entry, change.element) for entry in entries)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="the released document (openapi/released.json)")
    parser.add_argument("new", help="the current document (openapi/openapi.json)")
    parser.add_argument("--changelog", help="CHANGELOG.md, whose Unreleased/Breaking must name each change")
    args = parser.parse_args(argv)
    with open(args.old, encoding="utf-8") as f:
        old = json.load(f)
    with open(args.new, encoding="utf-8") as f:
        new = json.load(f)
    changes = compare(old, new)
    if not changes:
        print(f"no breaking change from {args.old} to {args.new}")
        return 0
    if args.changelog is None:
        print(f"{len(changes)} breaking changes from {args.old} to {args.new}:")
        for change in changes:
            print(f"  {change}")
        return 1
    with open(args.changelog, encoding="utf-8") as f:
        entries = breaking_entries(f.read())
    missing = [c for c in changes if not acknowledged(c, entries)]
    print(f"{len(changes)} breaking changes from {args.old} to {args.new}, "
          f"{len(changes) - len(missing)} named under Unreleased / Breaking in {args.changelog}:")
    for change in changes:
        print(f"  {'ok     ' if change not in missing else 'MISSING'} {change}")
    if missing:
        print(f"{len(missing)} breaking changes are not named in {args.changelog}: add a bullet to "
              "`### Breaking` under `## [Unreleased]` naming both what each is in and what changed "
              "(e.g. `POST /v1/carts` and `cart_token`), or undo the change.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
