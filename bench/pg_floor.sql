-- The checkout flow's floor on PostgreSQL: one order's writes and the reads its rules need,
-- as the API does them (cart; add item; checkout; payment; captured webhook: five
-- transactions, 35 statements), driven by pgbench with no API in front. `bench/pg_floor.sh`
-- runs it; what it reaches is what the database alone allows on this machine.
SELECT 'cart_'||gen_random_uuid() AS cart, 'ord_'||gen_random_uuid() AS ord, 'pay_'||gen_random_uuid() AS pay, 'VL-'||substr(md5(random()::text),1,12) AS num, 'evt_'||gen_random_uuid() AS e1, 'evt_'||gen_random_uuid() AS e2, 'ntf_'||gen_random_uuid() AS n1, 'ntf_'||gen_random_uuid() AS n2, 'pac_'||gen_random_uuid() AS pa \gset
INSERT INTO carts VALUES (:cart, NULL, sha256(:cart::bytea), 'open', now(), now(), now() + interval '7 days');
BEGIN;
UPDATE carts SET updated_at = now(), expires_at = now() + interval '7 days' WHERE id = :cart AND status = 'open' RETURNING id, owner_user_id, token_hash;
SELECT v.id, v.sku, v.available, p.name, p.base_price FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = :variant;
SELECT ci.quantity, v.id, v.sku, p.name FROM cart_items ci JOIN variants v ON v.id = ci.variant_id JOIN products p ON p.id = v.product_id WHERE ci.cart_id = :cart;
INSERT INTO cart_items VALUES (:cart, :variant, 1, now());
COMMIT;
BEGIN;
SELECT request_hash, status_code, response_sealed FROM idempotency_keys WHERE scope = 'checkout:' || :cart AND key = :cart;
UPDATE carts SET status = 'checked_out', updated_at = now() WHERE id = :cart AND status = 'open' RETURNING id, owner_user_id, token_hash;
SELECT ci.quantity, v.id, v.sku, v.color, v.price_override, p.id, p.name, p.base_price, p.status FROM cart_items ci JOIN variants v ON v.id = ci.variant_id JOIN products p ON p.id = v.product_id WHERE ci.cart_id = :cart;
INSERT INTO data_keys VALUES (:ord, 'kek-1', sha512(:ord::bytea), now(), NULL);
INSERT INTO orders VALUES (:ord, :num, NULL, sha256(:ord::bytea), 'pending_payment', 'EUR', 19900, 0, 19900, sha512(:ord::bytea), sha256(:num::bytea), sha512(:num::bytea) || sha512(:ord::bytea), 1, now() + interval '30 minutes', NULL, NULL, 1, now(), now());
INSERT INTO order_items VALUES (:ord, :variant, :product, 'SKU-1', 'Voyager 55 Spinner', 'black', 19900, 1);
INSERT INTO order_events VALUES (:e1, :ord, NULL, 'pending_payment', 'owner', NULL, NULL, now());
INSERT INTO policy_acceptances VALUES (:pa, :ord, 1, now(), 'checkout');
INSERT INTO notifications (id, recipient_user_id, order_id, kind, payload, status, attempts, next_attempt_at, created_at) VALUES (:n1, NULL, :ord, 'order.placed', '{"order_id":"' || :ord || '","number":"' || :num || '","status":"pending_payment"}', 'pending', 0, now(), now());
INSERT INTO idempotency_keys VALUES ('checkout:' || :cart, :cart, sha256(:cart::bytea), :ord, 201, decode(repeat(encode(sha512(:cart::bytea), 'hex'), 24), 'hex'), now()) ON CONFLICT (scope, key) DO NOTHING;
UPDATE variants SET available = available - 1 WHERE id = :variant AND available >= 1 AND status = 'active';
COMMIT;
BEGIN;
SELECT id, status, total, currency FROM orders WHERE number = :num;
SELECT request_hash, status_code, response_sealed FROM idempotency_keys WHERE scope = 'payment:' || :ord AND key = :ord;
INSERT INTO payments VALUES (:pay, :ord, 'test', 'test_' || :pay, 'pending', 19900, 0, 'EUR', now(), now());
SELECT kek_id, wrapped FROM data_keys WHERE subject_id = :ord;
INSERT INTO idempotency_keys VALUES ('payment:' || :ord, :ord, sha256(:ord::bytea), :ord, 201, decode(repeat(encode(sha512(:ord::bytea), 'hex'), 6), 'hex'), now()) ON CONFLICT (scope, key) DO NOTHING;
COMMIT;
BEGIN;
SELECT id, order_id, status, amount FROM payments WHERE provider_reference = 'test_' || :pay;
INSERT INTO payment_events VALUES ('test', :pay, :pay, 'payment.captured', now());
UPDATE payments SET status = 'captured', updated_at = now() WHERE id = :pay AND status = 'pending';
UPDATE orders SET status = 'paid', version = version + 1, updated_at = now() WHERE id = :ord AND status = 'pending_payment' RETURNING id, number, user_id, total;
INSERT INTO order_events VALUES (:e2, :ord, 'pending_payment', 'paid', 'provider', NULL, NULL, now());
INSERT INTO notifications (id, recipient_user_id, order_id, kind, payload, status, attempts, next_attempt_at, created_at) VALUES (:n2, NULL, :ord, 'order.paid', '{"order_id":"' || :ord || '","status":"paid"}', 'pending', 0, now(), now());
COMMIT;
