-- +goose Up
-- A pricing plan is a name and a sequence of immutable versions: changing a
-- plan adds a version, so a booking priced under version n keeps its price.
CREATE TABLE pricing_plans (
    id              uuid PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name_zh         text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 100),
    name_en         text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 100),
    active          boolean NOT NULL DEFAULT true,
    current_version integer NOT NULL CHECK (current_version >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pricing_plan_versions (
    plan_id    uuid NOT NULL REFERENCES pricing_plans (id),
    version    integer NOT NULL CHECK (version >= 1),
    rules      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    PRIMARY KEY (plan_id, version)
);

-- Versions are history: nothing may change or remove one.
-- +goose StatementBegin
CREATE FUNCTION pricing_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pricing plan versions are immutable; add a version instead'
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER pricing_plan_versions_immutable BEFORE UPDATE OR DELETE ON pricing_plan_versions
    FOR EACH ROW EXECUTE FUNCTION pricing_versions_immutable();

-- Which plan prices a model, optionally only in one zone (a zone override
-- wins over the model's default, whose zone_id is NULL).
CREATE TABLE pricing_assignments (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id  uuid NOT NULL REFERENCES pricing_plans (id),
    model_id uuid NOT NULL REFERENCES vehicle_models (id),
    zone_id  uuid REFERENCES zones (id),
    CONSTRAINT pricing_assignments_unique UNIQUE NULLS NOT DISTINCT (model_id, zone_id)
);
CREATE INDEX pricing_assignments_plan_idx ON pricing_assignments (plan_id);

-- Quotes shown to residents, kept so a booking can hold its price and
-- finance can explain it.
CREATE TABLE quotes (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    plan_id      uuid NOT NULL,
    plan_version integer NOT NULL,
    vehicle_id   uuid REFERENCES vehicles (id),
    model_id     uuid NOT NULL REFERENCES vehicle_models (id),
    zone_id      uuid REFERENCES zones (id),
    start_at     timestamptz NOT NULL,
    end_at       timestamptz NOT NULL CHECK (end_at > start_at),
    estimated_km integer NOT NULL CHECK (estimated_km >= 0),
    member       boolean NOT NULL,
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    lines        jsonb NOT NULL,
    subtotal     bigint NOT NULL CHECK (subtotal >= 0),
    vat          bigint NOT NULL CHECK (vat >= 0),
    total        bigint NOT NULL CHECK (total = subtotal + vat),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    FOREIGN KEY (plan_id, plan_version) REFERENCES pricing_plan_versions (plan_id, version)
);
CREATE INDEX quotes_user_idx ON quotes (user_id, created_at);

-- +goose Down
DROP TABLE quotes;
DROP TABLE pricing_assignments;
DROP TRIGGER pricing_plan_versions_immutable ON pricing_plan_versions;
DROP FUNCTION pricing_versions_immutable();
DROP TABLE pricing_plan_versions;
DROP TABLE pricing_plans;
