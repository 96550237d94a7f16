-- Why staff cancelled an order, as they typed it (1-500 characters): shown to staff and to
-- the order's owner in its history, never sent to integrators or in notifications. Null for
-- every other status change.
ALTER TABLE order_events ADD COLUMN reason TEXT;
