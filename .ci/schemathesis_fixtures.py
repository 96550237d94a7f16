"""Creates the resources schemathesis cannot discover on its own, and prints them as shell
`export` lines for .ci/schemathesis.toml and .ci/schemathesis.sh: a cart, orders in three
states (pending payment, paid, delivered with an after-sales case), a payment, a consultation,
a notification, a staff member, an API key, a product of the admin's own to edit, a guest's
cart and order with their tokens, and a logged-in member of staff for each role an admin may
grant (support, fulfilment, manager).

Usage: python3 .ci/schemathesis_fixtures.py BASE CUSTOMER_TOKEN ADMIN_TOKEN POLICY_VERSION
Uses the `test` payment provider's development webhook secret (the server must use it).
"""

import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

DEV_WEBHOOK_SECRET = b"valise-dev-webhook-secret"

base, customer, admin, policy_version = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# Unique names, so the script may run twice against one database.
run = uuid.uuid4().hex[:8]


def call(method, path, token=None, body=None, headers=None, expect=(200, 201, 204)):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in expect:
        sys.exit(f"fixture setup: {method} {path} answered {status}: {text}")
    return json.loads(text) if text else None


def checkout(variant_id, token=None):
    """Places an order as the customer, or as a guest when `token` is False."""
    who = None if token is False else customer
    cart = call("POST", "/v1/carts", who, {})
    guest = {"x-cart-token": cart["cart_token"]} if who is None else {}
    call("POST", f"/v1/carts/{cart['id']}/items", who, {"variant_id": variant_id, "quantity": 1},
         guest)
    return call(
        "POST",
        f"/v1/carts/{cart['id']}/checkout",
        who,
        {
            "contact_email": "fixture-customer@example.com",
            "shipping_address": {
                "name": "Fix Ture",
                "line1": "1 Fixture Street",
                "city": "Ghent",
                "postal_code": "9000",
                "country": "BE",
            },
            "accepted_policy_version": policy_version,
        },
        {"idempotency-key": str(uuid.uuid4()), **guest},
    )


def staff_token(role):
    """Creates a member of staff with `role` and logs them in."""
    email = f"fixture-as-{role.replace('_', '-')}-{run}@shop.example"
    password = f"a long {role} password {run}"
    call("POST", "/v1/admin/staff", admin,
         {"email": email, "password": password, "name": f"Fixture {role.title()}", "role": role})
    return call("POST", "/v1/auth/login", body={"email": email, "password": password})["access_token"]


def pay(number):
    payment = call(
        "POST", f"/v1/orders/{number}/payments", customer, {}, {"idempotency-key": str(uuid.uuid4())}
    )
    now = int(time.time())
    event = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.captured",
            "created": now,
            "data": {
                "payment_id": payment["id"],
                "provider_reference": payment["provider_reference"],
                "amount": payment["amount"]["amount"],
            },
        }
    ).encode()
    tag = hmac.new(DEV_WEBHOOK_SECRET, f"{now}.".encode() + event, hashlib.sha256).hexdigest()
    call("POST", "/v1/payments/webhooks/test", body=event, headers={"valise-signature": f"t={now},v1={tag}"})
    return payment


product = call("GET", "/v1/products?in_stock=true&limit=1")["data"][0]
variant = product["variants"][0]
# Plenty of stock: fuzzed checkouts must not run the fixtures dry.
call("PUT", f"/v1/admin/variants/{variant['id']}/stock", admin, {"available": 100000})

cart = call("POST", "/v1/carts", customer, {})
call("POST", f"/v1/carts/{cart['id']}/items", customer, {"variant_id": variant["id"], "quantity": 1})

pending = checkout(variant["id"])
paid = checkout(variant["id"])
payment = pay(paid["number"])
delivered = checkout(variant["id"])
pay(delivered["number"])
call("POST", f"/v1/admin/orders/{delivered['number']}/shipments", admin,
     {"carrier": "dhl", "tracking_number": "JJD0001"})
call("POST", f"/v1/admin/orders/{delivered['number']}/deliver", admin, {})
case = call("POST", f"/v1/orders/{delivered['number']}/after-sales", customer,
            {"kind": "repair", "reason": "A wheel came off."})

consultation = call("POST", f"/v1/products/{product['id']}/consultations", body={"question": "Does it fit a 15-inch laptop?"})
notification = call("GET", "/v1/me/notifications", customer)["data"][0]
staff = call("POST", "/v1/admin/staff", admin, {
    "email": f"fixture-support-{run}@shop.example", "password": "a long staff password",
    "name": "Sam Support", "role": "support"})
api_key = call("POST", "/v1/admin/api-keys", admin, {"name": "fixture key", "role": "support"})
own = call("POST", "/v1/admin/products", admin, {
    "slug": f"fixture-case-{run}", "name": "Fixture Case", "brand": "Valise", "description": "A case to edit.",
    "style": "travel", "material": "abs", "wheels": "spinner", "features": [], "warranty_years": 2,
    "images": [], "dimensions_cm": {"height": 55, "width": 40, "depth": 20}, "weight_g": 2500,
    "capacity_l": 40, "price": {"amount": 12900},
    "variants": [{"sku": f"FIXTURE-{run.upper()}", "color": "black", "available": 10}]})

guest_cart = call("POST", "/v1/carts", body={})
call("POST", f"/v1/carts/{guest_cart['id']}/items", body={"variant_id": variant["id"], "quantity": 1},
     headers={"x-cart-token": guest_cart["cart_token"]})
guest_order = checkout(variant["id"], token=False)

fixtures = {
    "ST_PRODUCT_ID": product["id"],
    "ST_VARIANT_ID": variant["id"],
    "ST_CART_ID": cart["id"],
    "ST_ORDER_NUMBER": pending["number"],
    "ST_PAID_ORDER_NUMBER": paid["number"],
    "ST_PAYMENT_ID": payment["id"],
    "ST_CASE_ID": case["id"],
    "ST_CONSULTATION_ID": consultation["id"],
    "ST_NOTIFICATION_ID": notification["id"],
    "ST_STAFF_ID": staff["id"],
    "ST_API_KEY_ID": api_key["id"],
    "ST_OWN_PRODUCT_ID": own["id"],
    "ST_OWN_VARIANT_ID": own["variants"][0]["id"],
    "ST_GUEST_CART_ID": guest_cart["id"],
    "ST_GUEST_CART_TOKEN": guest_cart["cart_token"],
    "ST_GUEST_ORDER_NUMBER": guest_order["number"],
    "ST_GUEST_ORDER_TOKEN": guest_order["order_token"],
    "SUPPORT_TOKEN": staff_token("support"),
    "FULFILLMENT_TOKEN": staff_token("fulfillment"),
    "MANAGER_TOKEN": staff_token("manager"),
}
for name, value in fixtures.items():
    print(f"export {name}={value}")
