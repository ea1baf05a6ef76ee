-- +goose Up
-- Raising a hold when a booking is extended (Stripe's incremental
-- authorisation of the same PaymentIntent): the new total asked for, until
-- Stripe answers. amount_authorized then follows what Stripe authorised.
ALTER TABLE payments ADD COLUMN increment_requested bigint CHECK (increment_requested > 0);

-- +goose Down
ALTER TABLE payments DROP COLUMN increment_requested;
