-- +goose Up
-- Reservations and the trips they become. The car is held by an occupancy
-- row (fleet) whose reservation_id points here; the price is the quote made
-- at booking under a pinned plan version; the money goes through payments.
CREATE TABLE reservations (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id),
    vehicle_id       uuid NOT NULL REFERENCES vehicles (id),
    zone_id          uuid NOT NULL REFERENCES zones (id),
    status           text NOT NULL CHECK (status IN ('pending_payment', 'confirmed', 'active', 'completed',
                         'cancelled', 'expired', 'no_show')),
    start_at         timestamptz NOT NULL,
    end_at           timestamptz NOT NULL CHECK (end_at > start_at),
    estimated_km     integer NOT NULL DEFAULT 0 CHECK (estimated_km >= 0),
    plan_id          uuid NOT NULL,
    plan_version     integer NOT NULL,
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    quote_lines      jsonb NOT NULL,
    quote_subtotal   bigint NOT NULL CHECK (quote_subtotal >= 0),
    quote_vat        bigint NOT NULL CHECK (quote_vat >= 0),
    quote_total      bigint NOT NULL CHECK (quote_total = quote_subtotal + quote_vat),
    payment_id       uuid,
    hold_expires_at  timestamptz NOT NULL,
    -- the trip
    started_at       timestamptz,
    start_odometer   numeric(10, 1),
    start_battery    integer,
    ended_at         timestamptz,
    end_odometer     numeric(10, 1),
    end_battery      integer,
    end_lat          double precision,
    end_lng          double precision,
    end_zone_id      uuid REFERENCES zones (id),
    out_of_zone      boolean,
    -- the outcome
    final_lines      jsonb,
    final_subtotal   bigint,
    final_vat        bigint,
    final_total      bigint CHECK (final_total = final_subtotal + final_vat),
    cancelled_at     timestamptz,
    cancelled_by     uuid REFERENCES users (id),
    cancel_reason    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (plan_id, plan_version) REFERENCES pricing_plan_versions (plan_id, version),
    CHECK ((status IN ('active', 'completed')) = (started_at IS NOT NULL)),
    CHECK ((status = 'completed') = (ended_at IS NOT NULL))
);
CREATE INDEX reservations_user_idx ON reservations (user_id, start_at);
CREATE INDEX reservations_vehicle_idx ON reservations (vehicle_id, start_at);
CREATE INDEX reservations_created_idx ON reservations (created_at, id);
CREATE INDEX reservations_pending_idx ON reservations (hold_expires_at) WHERE status = 'pending_payment';
CREATE INDEX reservations_confirmed_idx ON reservations (start_at) WHERE status = 'confirmed';
CREATE INDEX reservations_active_idx ON reservations (end_at) WHERE status = 'active';
-- One trip at a time per resident, whatever the code does.
CREATE UNIQUE INDEX reservations_one_active_trip ON reservations (user_id) WHERE status = 'active';

-- Every state change of a reservation, with who and why.
CREATE TABLE reservation_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reservation_id uuid NOT NULL REFERENCES reservations (id),
    from_status    text,
    to_status      text NOT NULL,
    actor          uuid REFERENCES users (id),
    note           text,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservation_events_idx ON reservation_events (reservation_id, id);

-- Commands sent to cars through the telematics adapter.
CREATE TABLE vehicle_commands (
    id             uuid PRIMARY KEY,
    vehicle_id     uuid NOT NULL REFERENCES vehicles (id),
    reservation_id uuid REFERENCES reservations (id),
    command        text NOT NULL CHECK (command IN ('unlock', 'lock')),
    status         text NOT NULL CHECK (status IN ('sent', 'acknowledged', 'failed')),
    adapter        text NOT NULL,
    detail         text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicle_commands_vehicle_idx ON vehicle_commands (vehicle_id, created_at);

-- Residents' reports of a car's condition at unlock and return.
CREATE TABLE condition_reports (
    id             uuid PRIMARY KEY,
    reservation_id uuid NOT NULL REFERENCES reservations (id),
    vehicle_id     uuid NOT NULL REFERENCES vehicles (id),
    user_id        uuid NOT NULL REFERENCES users (id),
    phase          text NOT NULL CHECK (phase IN ('start', 'end')),
    category       text NOT NULL CHECK (category IN ('damage', 'dirty', 'low_fuel_or_charge', 'unable_to_open', 'other')),
    notes          text NOT NULL DEFAULT '',
    photo_refs     text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    resolved_by    uuid REFERENCES users (id),
    resolution     text,
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE INDEX condition_reports_open_idx ON condition_reports (created_at, id) WHERE resolved_at IS NULL;

-- Alerts for operators: a trip running into the next booking of its car, or
-- an odometer gap between one trip's end and the next one's start.
CREATE TABLE fleet_alerts (
    id             uuid PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('overrun', 'odometer_gap')),
    vehicle_id     uuid NOT NULL REFERENCES vehicles (id),
    reservation_id uuid REFERENCES reservations (id),
    detail         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    UNIQUE (kind, reservation_id)
);
CREATE INDEX fleet_alerts_open_idx ON fleet_alerts (created_at) WHERE resolved_at IS NULL;

-- Per-zone booking rules; a NULL column takes the configured default.
CREATE TABLE zone_booking_rules (
    zone_id            uuid PRIMARY KEY REFERENCES zones (id),
    min_minutes        integer CHECK (min_minutes BETWEEN 15 AND 1440),
    max_minutes        integer CHECK (max_minutes BETWEEN 60 AND 43200),
    min_notice_minutes integer CHECK (min_notice_minutes BETWEEN 0 AND 1440),
    horizon_days       integer CHECK (horizon_days BETWEEN 1 AND 365),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE zone_booking_rules;
DROP TABLE fleet_alerts;
DROP TABLE condition_reports;
DROP TABLE vehicle_commands;
DROP TABLE reservation_events;
DROP TABLE reservations;
