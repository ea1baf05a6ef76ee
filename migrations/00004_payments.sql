-- +goose Up
-- Payments with Stripe: customers and their cards, payments with an
-- append-only history, refunds, received Stripe events, the durable outbox of
-- Stripe calls that follow a database change, and stored Idempotency-Key
-- answers. Amounts are integer minor units (fen) of the row's currency.

-- One Stripe Customer per resident, made the first time one is needed. The
-- default card is ours to choose: it is the card off-session charges use.
CREATE TABLE payment_customers (
    user_id                uuid PRIMARY KEY REFERENCES users (id),
    stripe_customer_id     text NOT NULL UNIQUE,
    default_payment_method text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- The cards attached to each customer, mirrored from Stripe's
-- payment_method.attached and .detached events. Whether a card belongs to a
-- resident is decided here. changed_at is the time of the last Stripe event
-- applied, so an older event never undoes a newer one.
CREATE TABLE payment_methods (
    id          text PRIMARY KEY CHECK (id LIKE 'pm\_%'),
    user_id     uuid NOT NULL REFERENCES payment_customers (user_id),
    brand       text NOT NULL,
    last4       text NOT NULL,
    exp_month   integer NOT NULL,
    exp_year    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    changed_at  timestamptz NOT NULL,
    detached_at timestamptz
);
CREATE INDEX payment_methods_user_idx ON payment_methods (user_id, created_at) WHERE detached_at IS NULL;

-- A payment is one Stripe PaymentIntent for one purpose (e.g. a
-- reservation): an authorisation (manual capture) or an off-session charge.
-- The database holds the money rules: captured <= authorised and refunded
-- <= captured, whatever the code does.
CREATE TABLE payments (
    id                       uuid PRIMARY KEY,
    purpose_kind             text NOT NULL CHECK (purpose_kind ~ '^[a-z][a-z_]{0,31}$'),
    purpose_id               uuid NOT NULL,
    user_id                  uuid NOT NULL REFERENCES users (id),
    kind                     text NOT NULL CHECK (kind IN ('authorization', 'charge')),
    status                   text NOT NULL CHECK (status IN ('pending', 'requires_action', 'processing',
                                 'authorized', 'succeeded', 'disputed', 'canceled', 'failed')),
    currency                 text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_authorized        bigint NOT NULL CHECK (amount_authorized > 0),
    amount_captured          bigint NOT NULL DEFAULT 0 CHECK (amount_captured >= 0),
    amount_refunded          bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
    capture_requested        bigint CHECK (capture_requested > 0),
    pending_action           text CHECK (pending_action IN ('capture', 'release')),
    capture_tried            boolean NOT NULL DEFAULT false,
    description              text NOT NULL DEFAULT '',
    off_session              boolean NOT NULL,
    payment_method           text,
    stripe_customer_id       text,
    stripe_payment_intent_id text UNIQUE,
    stripe_charge_id         text,
    client_secret            text,
    failure_code             text,
    failure_message          text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_captured_within_authorized CHECK (amount_captured <= amount_authorized),
    CONSTRAINT payments_refunded_within_captured CHECK (amount_refunded <= amount_captured),
    CONSTRAINT payments_capture_within_authorized CHECK (capture_requested <= amount_authorized)
);
-- At most one live authorisation per purpose: asking again returns it.
CREATE UNIQUE INDEX payments_live_authorization_key ON payments (purpose_kind, purpose_id)
    WHERE kind = 'authorization' AND status NOT IN ('canceled', 'failed');
CREATE INDEX payments_created_idx ON payments (created_at DESC, id DESC);
CREATE INDEX payments_user_idx ON payments (user_id, created_at DESC, id DESC);
CREATE INDEX payments_purpose_idx ON payments (purpose_kind, purpose_id);
CREATE INDEX payments_status_idx ON payments (status, created_at DESC);

-- Every status change and money movement of a payment, in order; rows are
-- never changed or removed (a trigger refuses it).
CREATE TABLE payment_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id      uuid NOT NULL REFERENCES payments (id),
    from_status     text,
    status          text NOT NULL,
    event           text NOT NULL,
    amount          bigint,
    detail          text NOT NULL DEFAULT '',
    source          text NOT NULL CHECK (source IN ('request', 'response', 'webhook')),
    stripe_event_id text,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_history_payment_idx ON payment_history (payment_id, id);

-- +goose StatementBegin
CREATE FUNCTION payment_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payment_history is append-only';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER payment_history_append_only BEFORE UPDATE OR DELETE ON payment_history
    FOR EACH ROW EXECUTE FUNCTION payment_history_append_only();

-- Refunds of captured payments. The amount is added to
-- payments.amount_refunded when the refund is requested (so concurrent
-- requests cannot exceed the captured amount) and taken back if Stripe
-- refuses it.
CREATE TABLE refunds (
    id               uuid PRIMARY KEY,
    payment_id       uuid NOT NULL REFERENCES payments (id),
    amount           bigint NOT NULL CHECK (amount > 0),
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason           text NOT NULL CHECK (reason IN ('requested_by_customer', 'duplicate', 'fraudulent', 'service_issue')),
    note             text NOT NULL DEFAULT '',
    status           text NOT NULL CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
    stripe_refund_id text UNIQUE,
    failure_reason   text,
    requested_by     uuid REFERENCES users (id),
    idempotency_key  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_idempotency_key UNIQUE (payment_id, idempotency_key)
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at);

-- Every Stripe event received, by its id: a redelivered event finds its row
-- and is acknowledged without being applied again.
CREATE TABLE stripe_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    api_version text NOT NULL,
    livemode    boolean NOT NULL,
    created     timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('received', 'applied', 'ignored')),
    note        text NOT NULL DEFAULT ''
);
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at);

-- The outbox: work (such as a Stripe call) that must follow a database
-- change, written in the same transaction and run by the worker until it
-- succeeds. key is the job's identity (and the Stripe idempotency key), so
-- enqueueing the same work twice is a no-op. A job is leased while it runs;
-- an expired lease (a crashed process) makes it due again.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    key          text NOT NULL UNIQUE,
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    lease        uuid,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (run_at, id) WHERE status = 'pending';
CREATE INDEX outbox_done_idx ON outbox (done_at) WHERE status = 'done';

-- Answers to requests sent with an Idempotency-Key, per user: the same key
-- and request replay the answer; the same key with another request is
-- refused. A row without a status is a request still running.
CREATE TABLE idempotency_keys (
    user_id         uuid NOT NULL,
    key             text NOT NULL,
    method          text NOT NULL,
    path            text NOT NULL,
    request_hash    bytea NOT NULL,
    response_status integer,
    response_type   text,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE outbox;
DROP TABLE stripe_events;
DROP TABLE refunds;
DROP TRIGGER payment_history_append_only ON payment_history;
DROP TABLE payment_history;
DROP FUNCTION payment_history_append_only();
DROP TABLE payments;
DROP TABLE payment_methods;
DROP TABLE payment_customers;
