// A frontend team's first hour with Valise, typed entirely from openapi/openapi.json:
// register -> browse products -> cart -> add an item -> checkout (with Idempotency-Key), then a
// replay of the same checkout and a read of the order. Exits non-zero on any surprise.
//
//   VALISE_URL=http://127.0.0.1:8080 node dist/src/flow.js

import createClient from "openapi-fetch";
import type { components, paths } from "../generated/api.js";

type Product = components["schemas"]["ProductView"];
type Order = components["schemas"]["OrderView"];

const baseUrl = process.env.VALISE_URL ?? "http://127.0.0.1:8080";
const api = createClient<paths>({ baseUrl });

function check(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

async function main(): Promise<void> {
  const policy = await api.GET("/v1/policies/current");
  check(policy.data, `current policy: ${policy.response.status}`);
  const acceptedPolicyVersion: number = policy.data.version;

  const email = `ts-client-${Date.now()}@example.com`;
  const registered = await api.POST("/v1/auth/register", {
    body: {
      email,
      password: "typescript client password",
      name: "Tess Script",
      accepted_policy_version: acceptedPolicyVersion,
    },
  });
  check(registered.data, `register: ${registered.response.status}`);
  check(registered.response.status === 202, "register answers 202");
  check(registered.data.status === "check_inbox", "the next step is in the mail");
  // The confirmation is in a mailbox this flow cannot read: it continues as the customer
  // the live server set up and the operator confirmed (`valise accounts confirm`).
  const customerEmail = process.env.VALISE_CUSTOMER_EMAIL;
  const customerPassword = process.env.VALISE_CUSTOMER_PASSWORD;
  check(customerEmail && customerPassword, "VALISE_CUSTOMER_EMAIL and _PASSWORD are set");
  const session = await api.POST("/v1/auth/login", {
    body: { email: customerEmail, password: customerPassword },
  });
  check(session.data, `login: ${session.response.status}`);
  const auth = { Authorization: `Bearer ${session.data.access_token}` };
  console.log("registered and logged in");

  const listing = await api.GET("/v1/products", {
    params: { query: { in_stock: true, sort: "price", limit: 10 } },
  });
  check(listing.data, `browse: ${listing.response.status}`);
  const firstPage: Product[] = listing.data.data;
  check(firstPage.length > 0, "the seeded catalogue lists products in stock");
  const summary = firstPage[0];
  check(summary, "a product");

  const product = await api.GET("/v1/products/{id_or_slug}", {
    params: { path: { id_or_slug: summary.slug } },
  });
  check(product.data, `product ${summary.slug}: ${product.response.status}`);
  const variant = product.data.variants.find((v) => v.available > 0);
  check(variant, `${summary.slug} has a variant in stock`);
  console.log(`browsing ${product.data.name}: ${variant.sku} at ${variant.price.amount} ${variant.price.currency}`);

  const cart = await api.POST("/v1/carts", { body: {}, headers: auth });
  check(cart.data, `create cart: ${cart.response.status}`);
  const cartId = cart.data.id;

  const added = await api.POST("/v1/carts/{id}/items", {
    params: { path: { id: cartId } },
    body: { variant_id: variant.id, quantity: 1 },
    headers: auth,
  });
  check(added.data, `add item: ${added.response.status}`);
  check(added.data.items.length === 1, "the cart holds one line");
  check(added.data.totals.total.amount >= variant.price.amount, "totals cover the item");

  const idempotencyKey = crypto.randomUUID();
  const checkout = () =>
    api.POST("/v1/carts/{id}/checkout", {
      params: { path: { id: cartId }, header: { "Idempotency-Key": idempotencyKey } },
      body: {
        contact_email: email,
        shipping_address: {
          name: "Tess Script",
          line1: "1 Typed Lane",
          city: "Lyon",
          postal_code: "69001",
          country: "FR",
        },
        accepted_policy_version: acceptedPolicyVersion,
      },
      headers: auth,
    });
  const placed = await checkout();
  check(placed.data, `checkout: ${placed.response.status}`);
  check(placed.response.status === 201, "checkout answers 201");
  const order: Order = placed.data;
  check(order.status === "pending_payment", `new order is pending_payment, not ${order.status}`);
  console.log(`placed order ${order.number} (${order.totals.total.amount} ${order.totals.total.currency})`);

  const replay = await checkout();
  check(replay.data, `checkout replay: ${replay.response.status}`);
  check(replay.response.headers.get("idempotent-replayed") === "true", "the replay is marked");
  check(replay.data.number === order.number, "the replay returns the same order");

  const read = await api.GET("/v1/orders/{number}", {
    params: { path: { number: order.number } },
    headers: auth,
  });
  check(read.data, `read order: ${read.response.status}`);
  check(read.data.id === order.id, "the order reads back");
  console.log(`order ${read.data.number} is ${read.data.status}; may next: ${read.data.allowed_transitions.join(", ")}`);
}

main().then(
  () => console.log("typescript client flow: ok"),
  (error: unknown) => {
    console.error(`typescript client flow FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
