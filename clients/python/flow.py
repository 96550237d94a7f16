"""A Python integrator's first hour with Valise, through a client generated from
openapi/openapi.json by openapi-python-client: register -> browse products -> cart -> add an
item -> checkout (with Idempotency-Key and the current policy version), then a replay of the
same checkout and a read of the order. The same flow as clients/ts/src/flow.ts. Exits
non-zero on any surprise.

    PYTHONPATH=target/ci/python-client VALISE_URL=http://127.0.0.1:8080 python clients/python/flow.py

.ci/python-client.sh generates the `valise_client` package and runs this against a live server.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any, NoReturn, TypeVar

from valise_client import AuthenticatedClient, Client

# The generated operations this flow calls. openapi-python-client writes each operation to
# valise_client/api/<tag>/<operationId in snake_case>.py; when a tag or an operationId
# changes, these imports are all there is to update (.ci/python-client.sh lists the
# generated modules when one is missing).
from valise_client.api.auth import log_in, register_customer
from valise_client.api.carts import add_cart_item, create_cart
from valise_client.api.catalog import get_product, list_products
from valise_client.api.orders import checkout_cart, get_order
from valise_client.api.policies import get_current_policy
from valise_client.models import (
    AcceptedStatus,
    CheckInbox,
    Address,
    CartView,
    CheckoutRequest,
    NewCart,
    NewItem,
    OrderStatus,
    OrderView,
    PolicyDocument,
    Problem,
    ProductList,
    ProductView,
    LoginRequest,
    RegisterRequest,
    TokenPair,
)
from valise_client.types import Response

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    raise AssertionError(message)


def check(condition: object, message: str) -> None:
    if not condition:
        fail(message)


def expect(response: Response[Any], status: int, kind: type[T], what: str) -> T:
    """The parsed body of `response`, which must have `status` and be a `kind`."""
    parsed = response.parsed
    if response.status_code != status or not isinstance(parsed, kind):
        detail = f" ({parsed.type_}: {parsed.detail})" if isinstance(parsed, Problem) else ""
        fail(f"{what}: expected {status} with a {kind.__name__}, got {int(response.status_code)}{detail}")
    return parsed


def main() -> None:
    base_url = os.environ.get("VALISE_URL", "http://127.0.0.1:8080")
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)

    current = get_current_policy.sync_detailed(client=anonymous)
    policy = expect(current, 200, PolicyDocument, "current policy")
    check(
        current.headers.get("x-policy-version") == str(policy.version),
        "X-Policy-Version names the current policy",
    )
    accepted_policy_version = policy.version

    email = f"python-client-{time.time_ns()}@example.com"
    accepted = expect(
        register_customer.sync_detailed(
            client=anonymous,
            body=RegisterRequest(
                email=email,
                password="python client password",
                name="Py Thon",
                accepted_policy_version=accepted_policy_version,
            ),
        ),
        202,
        CheckInbox,
        "register",
    )
    check(accepted.status == AcceptedStatus.CHECK_INBOX, "the next step is in the mail")
    # The confirmation is in a mailbox this flow cannot read: it continues as the customer the
    # live server set up and the operator confirmed (`valise accounts confirm`).
    tokens = expect(
        log_in.sync_detailed(
            client=anonymous,
            body=LoginRequest(
                email=os.environ["VALISE_CUSTOMER_EMAIL"],
                password=os.environ["VALISE_CUSTOMER_PASSWORD"],
            ),
        ),
        200,
        TokenPair,
        "log in",
    )
    customer = AuthenticatedClient(
        base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True
    )
    print("registered and logged in")

    listing = expect(
        list_products.sync_detailed(client=customer, in_stock=True, limit=10),
        200,
        ProductList,
        "browse",
    )
    check(listing.data, "the seeded catalogue lists products in stock")
    summary = listing.data[0]
    product = expect(
        get_product.sync_detailed(summary.slug, client=customer),
        200,
        ProductView,
        f"product {summary.slug}",
    )
    variant = next((v for v in product.variants if v.available > 0), None)
    if variant is None:
        fail(f"{summary.slug} has a variant in stock")
    print(f"browsing {product.name}: {variant.sku} at {variant.price.amount} {variant.price.currency}")

    cart = expect(create_cart.sync_detailed(client=customer, body=NewCart()), 201, CartView, "create cart")
    added = expect(
        add_cart_item.sync_detailed(
            cart.id, client=customer, body=NewItem(variant_id=variant.id, quantity=1)
        ),
        200,
        CartView,
        "add item",
    )
    check(len(added.items) == 1, "the cart holds one line")
    check(added.totals.total.amount >= variant.price.amount, "totals cover the item")

    idempotency_key = str(uuid.uuid4())
    request = CheckoutRequest(
        contact_email=email,
        shipping_address=Address(
            name="Py Thon", line1="1 Typed Lane", city="Lyon", postal_code="69001", country="FR"
        ),
        accepted_policy_version=accepted_policy_version,
    )

    def checkout() -> Response[OrderView | Problem]:
        return checkout_cart.sync_detailed(
            cart.id, client=customer, body=request, idempotency_key=idempotency_key
        )

    placed = checkout()
    order = expect(placed, 201, OrderView, "checkout")
    check(placed.headers.get("idempotent-replayed") != "true", "the first checkout is not a replay")
    check(
        order.status == OrderStatus.PENDING_PAYMENT,
        f"new order is pending_payment, not {order.status}",
    )
    print(f"placed order {order.number} ({order.totals.total.amount} {order.totals.total.currency})")

    replayed = checkout()
    replay = expect(replayed, 201, OrderView, "checkout replay")
    check(replayed.headers.get("idempotent-replayed") == "true", "the replay is marked Idempotent-Replayed: true")
    check(replay.number == order.number and replay.id == order.id, "the replay returns the same order")

    read = expect(get_order.sync_detailed(order.number, client=customer), 200, OrderView, "read order")
    check(read.id == order.id, "the order reads back")
    transitions = ", ".join(str(t) for t in read.allowed_transitions)
    print(f"order {read.number} is {read.status}; may next: {transitions}")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"python client flow FAILED: {error}", file=sys.stderr)
        sys.exit(1)
    print("python client flow: ok")
