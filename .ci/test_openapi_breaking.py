"""Tests of .ci/openapi_breaking.py: each rule of docs/versioning.md on small documents, what
is not breaking, and how CHANGELOG.md entries are matched.

    python3 -m unittest discover -s .ci -p 'test_openapi_breaking.py'
"""

import copy
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from openapi_breaking import Change, acknowledged, breaking_entries, compare  # noqa: E402

BASE = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/v1/carts/{id}/items": {
            "post": {
                "operationId": "addCartItem",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "X-Cart-Token", "in": "header", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}},
                },
                "responses": {
                    "200": {
                        "description": "the cart",
                        "headers": {"ETag": {"schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cart"}}},
                    },
                    "404": {"description": "no such cart"},
                },
            }
        },
        "/v1/products": {
            "get": {
                "operationId": "listProducts",
                "security": [],
                "parameters": [
                    {"name": "sort", "in": "query",
                     "schema": {"type": "string", "enum": ["newest", "price"]}},
                ],
                "responses": {
                    "200": {
                        "description": "a page",
                        "content": {"application/json": {"schema": {
                            "type": "object",
                            "required": ["data"],
                            "properties": {
                                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Product"}},
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        }}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "NewItem": {
                "type": "object",
                "required": ["variant_id", "quantity"],
                "properties": {
                    "variant_id": {"type": "string"},
                    "quantity": {"type": "integer"},
                    "note": {"type": "string"},
                    "gift": {"$ref": "#/components/schemas/Wrapping"},
                },
            },
            "Wrapping": {"type": "string", "enum": ["none", "paper", "box"]},
            "Cart": {
                "type": "object",
                "required": ["id", "status", "items"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"$ref": "#/components/schemas/CartStatus"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                    "total": {"type": "integer"},
                },
            },
            "CartStatus": {"type": "string", "enum": ["open", "checked_out"]},
            "Line": {
                "type": "object",
                "required": ["variant_id"],
                "properties": {"variant_id": {"type": "string"}, "next": {"$ref": "#/components/schemas/Line"}},
            },
            "Product": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "price": {"type": "integer"}},
            },
        }
    },
}


def changed(edit):
    new = copy.deepcopy(BASE)
    edit(new)
    return [str(c) for c in compare(BASE, new)]


def op(document, path="/v1/carts/{id}/items", method="post"):
    return document["paths"][path][method]


def schemas(document):
    return document["components"]["schemas"]


class Breaking(unittest.TestCase):
    def assertOnly(self, found, expected):
        self.assertEqual(found, expected, json.dumps(found, indent=1))

    def test_an_unchanged_document_has_no_change(self):
        self.assertOnly(compare(BASE, copy.deepcopy(BASE)), [])

    def test_removed_operation(self):
        self.assertOnly(
            changed(lambda d: d["paths"].pop("/v1/products")),
            ["GET /v1/products | listProducts: operation removed"],
        )

    def test_changed_operation_id(self):
        self.assertOnly(
            changed(lambda d: op(d).update(operationId="addItem")),
            ["POST /v1/carts/{id}/items | addCartItem: operationId changed: addCartItem -> addItem"],
        )

    def test_renamed_path_parameter_is_the_same_operation_with_a_renamed_parameter(self):
        def edit(d):
            d["paths"]["/v1/carts/{cart_id}/items"] = d["paths"].pop("/v1/carts/{id}/items")
            op(d, "/v1/carts/{cart_id}/items")["parameters"][0]["name"] = "cart_id"

        self.assertOnly(changed(edit), ["POST /v1/carts/{id}/items | id: path parameter renamed: id -> cart_id"])

    def test_parameters_removed_made_required_added_required_or_narrowed(self):
        self.assertOnly(
            changed(lambda d: op(d)["parameters"].pop(1)),
            ["POST /v1/carts/{id}/items | X-Cart-Token: header parameter removed"],
        )
        self.assertOnly(
            changed(lambda d: op(d)["parameters"][1].update(required=True)),
            ["POST /v1/carts/{id}/items | X-Cart-Token: header parameter became required"],
        )
        self.assertOnly(
            changed(lambda d: op(d)["parameters"].append(
                {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}})),
            ["POST /v1/carts/{id}/items | Idempotency-Key: new required header parameter"],
        )
        self.assertOnly(
            changed(lambda d: op(d, "/v1/products", "get")["parameters"][0]["schema"].update(enum=["newest"])),
            ["GET /v1/products | price: enum value removed at sort"],
        )

    def test_request_properties(self):
        self.assertOnly(
            changed(lambda d: schemas(d)["NewItem"]["properties"].pop("note")),
            ["NewItem | note: request property removed"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["NewItem"]["required"].append("note")),
            ["NewItem | note: request property became required"],
        )

        def new_required(d):
            schemas(d)["NewItem"]["properties"]["size"] = {"type": "string"}
            schemas(d)["NewItem"]["required"].append("size")

        self.assertOnly(changed(new_required), ["NewItem | size: new required request property"])
        self.assertOnly(
            changed(lambda d: schemas(d)["NewItem"]["properties"]["quantity"].update(type="string")),
            ["NewItem | quantity: request type narrowed: integer no longer accepted"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["Wrapping"].update(enum=["none", "box"])),
            ["Wrapping | paper: enum value removed at (the schema itself)"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["NewItem"]["properties"]["note"].update(enum=["a", "b"])),
            ["NewItem | note: request enum imposed where any value was accepted"],
        )

    def test_request_body_and_media_types(self):
        def body_required(d):
            d["paths"]["/v1/products"]["post"] = {
                "operationId": "createProduct",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"201": {"description": "created"}},
            }

        old = copy.deepcopy(BASE)
        body_required(old)
        new = copy.deepcopy(old)
        new["paths"]["/v1/products"]["post"]["requestBody"]["required"] = True
        self.assertEqual(
            [str(c) for c in compare(old, new)],
            ["POST /v1/products | request body: request body became required"],
        )
        self.assertOnly(
            changed(lambda d: op(d)["requestBody"].update(
                content={"application/merge-patch+json": op(d)["requestBody"]["content"]["application/json"]})),
            ["POST /v1/carts/{id}/items | application/json: request media type no longer accepted"],
        )

    def test_responses(self):
        self.assertOnly(
            changed(lambda d: op(d)["responses"].pop("404")),
            ["POST /v1/carts/{id}/items | 404: response status removed"],
        )
        self.assertOnly(
            changed(lambda d: op(d)["responses"]["200"].pop("headers")),
            ["POST /v1/carts/{id}/items | ETag: response header removed from 200"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["Cart"]["properties"].pop("total")),
            ["Cart | total: response property removed"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["Cart"]["required"].remove("items")),
            ["Cart | items: response property no longer always present"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["Cart"]["properties"]["total"].update(type=["integer", "null"])),
            ["Cart | total: response type widened: may now be null"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["CartStatus"].update(enum=["open"])),
            ["CartStatus | checked_out: enum value removed at (the schema itself)"],
        )

    def test_inline_response_schemas_are_reported_under_their_operation(self):
        page = lambda d: op(d, "/v1/products", "get")["responses"]["200"]["content"]["application/json"]["schema"]
        self.assertOnly(
            changed(lambda d: page(d)["properties"].pop("next_cursor")),
            ["GET /v1/products | next_cursor: response property removed"],
        )
        self.assertOnly(
            changed(lambda d: schemas(d)["Product"]["required"].remove("id")),
            ["Product | id: response property no longer always present"],
        )

    def test_nested_inline_schemas_and_unions(self):
        old = copy.deepcopy(BASE)
        schemas(old)["NewItem"]["properties"]["options"] = {
            "type": "object",
            "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}},
        }
        schemas(old)["Cart"]["properties"]["owner"] = {
            "oneOf": [{"type": "string"}, {"type": "object", "properties": {"id": {"type": "string"}}}]
        }
        new = copy.deepcopy(old)
        schemas(new)["NewItem"]["properties"]["options"]["properties"]["a"]["properties"].pop("b")
        schemas(new)["Cart"]["properties"]["owner"]["oneOf"][1]["properties"].pop("id")
        schemas(new)["Cart"]["properties"]["owner"]["oneOf"].append({"type": "null"})
        self.assertEqual(
            [str(c) for c in compare(old, new)],
            [
                "Cart | owner: response type widened: may now be null",
                "Cart | owner: response union gained members: 2 -> 3",
                "Cart | owner.oneOf[1].id: response property removed",
                "NewItem | options.a.b: request property removed",
            ],
        )

    def test_a_nullable_reference_to_an_enum_is_typed_by_its_members(self):
        old = copy.deepcopy(BASE)
        schemas(old)["Cart"]["properties"]["state"] = {"type": ["string", "null"]}
        schemas(old)["NewItem"]["properties"]["gift"] = {"type": ["string", "null"]}
        schemas(old)["Wrap"] = {"type": "string", "enum": ["paper", "box"]}
        new = copy.deepcopy(old)
        nullable_enum = {"oneOf": [{"$ref": "#/components/schemas/Wrap"}, {"type": "null"}]}
        schemas(new)["Cart"]["properties"]["state"] = copy.deepcopy(nullable_enum)
        schemas(new)["NewItem"]["properties"]["gift"] = copy.deepcopy(nullable_enum)
        self.assertEqual(
            [str(c) for c in compare(old, new)],
            ["NewItem | gift: request enum imposed where any value was accepted"],
        )

    def test_schemas_removed_or_renamed(self):
        def rename(d):
            schemas(d)["CartLine"] = schemas(d).pop("Line")
            schemas(d)["CartLine"]["properties"]["next"] = {"$ref": "#/components/schemas/CartLine"}
            schemas(d)["Cart"]["properties"]["items"]["items"] = {"$ref": "#/components/schemas/CartLine"}

        # The contents are compared through the new name (no change there); the name is gone.
        self.assertOnly(
            changed(rename),
            ["Line | Line: schema removed or renamed (generated clients name types after it)"],
        )

    def test_operations_that_now_require_credentials(self):
        self.assertOnly(
            changed(lambda d: op(d, "/v1/products", "get").update(security=[{"bearer": []}])),
            ["GET /v1/products | security: anonymous calls now refused: credentials required"],
        )

    def test_additions_are_not_breaking(self):
        def additions(d):
            d["paths"]["/v1/orders"] = {"get": {"operationId": "listOrders", "responses": {"200": {"description": "x"}}}}
            op(d)["parameters"].append({"name": "dry_run", "in": "query", "schema": {"type": "boolean"}})
            op(d)["responses"]["409"] = {"description": "conflict"}
            op(d)["responses"]["200"]["headers"]["Deprecation"] = {"schema": {"type": "string"}}
            schemas(d)["NewItem"]["properties"]["engraving"] = {"type": "string"}
            schemas(d)["NewItem"]["properties"]["quantity"]["type"] = ["integer", "string"]
            schemas(d)["Wrapping"]["enum"].append("bag")
            schemas(d)["Cart"]["properties"]["currency"] = {"type": "string"}
            schemas(d)["Cart"]["required"].append("total")
            schemas(d)["CartStatus"]["enum"].append("expired")
            schemas(d)["Coupon"] = {"type": "object"}
            op(d)["deprecated"] = True

        self.assertOnly(changed(additions), [])

    def test_recursive_schemas_end(self):
        self.assertOnly(
            changed(lambda d: schemas(d)["Line"]["properties"]["next"].update({"description": "the next"})),
            [],
        )


CHANGELOG = """# Changelog

## [Unreleased]

### Added
- `GET /v1/orders` lists `addCartItem` things.

### Breaking
- `POST /v1/carts/{id}/items`: operationId `addCartItem` is now
  `addItem` (the generated clients' function names change).
- `Cart.total` is gone.

## [0.1.0] - 2026-11-01

### Breaking
- `GET /v1/products`: `listProducts` renamed.
"""


class Changelog(unittest.TestCase):
    def test_bullets_of_unreleased_breaking_only(self):
        self.assertEqual(
            breaking_entries(CHANGELOG),
            [
                "`POST /v1/carts/{id}/items`: operationId `addCartItem` is now `addItem` (the generated "
                "clients' function names change).",
                "`Cart.total` is gone.",
            ],
        )
        self.assertEqual(breaking_entries("# Changelog\n\n## [Unreleased]\n\n### Added\n- x\n"), [])

    def test_a_change_is_acknowledged_by_one_bullet_naming_both(self):
        entries = breaking_entries(CHANGELOG)
        yes = Change("POST /v1/carts/{id}/items", "addCartItem", "operationId changed")
        self.assertTrue(acknowledged(yes, entries))
        self.assertTrue(acknowledged(Change("Cart", "total", "response property removed"), entries))
        # Named in Added, or in a released version's Breaking, does not count.
        self.assertFalse(acknowledged(Change("GET /v1/products", "listProducts", "operationId changed"), entries))
        # Both names in one bullet: the subject alone is not enough.
        self.assertFalse(acknowledged(Change("POST /v1/carts/{id}/items", "X-Cart-Token", "removed"), entries))

    def test_names_are_whole(self):
        entries = ["`POST /v1/carts/{id}/items/{variant_id}` lost `quantity`", "`Cart.total_amount` is gone"]
        # A longer path is not the shorter one; a longer identifier is not the shorter one.
        self.assertFalse(acknowledged(Change("POST /v1/carts/{id}/items", "quantity", "m"), entries))
        self.assertFalse(acknowledged(Change("Cart", "total", "m"), entries))
        self.assertTrue(acknowledged(Change("Cart", "total_amount", "m"), entries))


if __name__ == "__main__":
    unittest.main()
