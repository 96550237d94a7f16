-- Why staff cancelled an order, one of a vocabulary (never free text: a note about a customer
-- would be personal data in the clear): shown to staff and to
-- the order's owner in its history, never sent to integrators or in notifications. Null for
-- every other status change.
ALTER TABLE order_events ADD COLUMN reason TEXT;
