-- +goose Up
-- Zones: stations (a point, a radius and a parking capacity) and areas (a
-- polygon) where cars live and must be returned. lat/lng is the station's
-- point or the area's centre; area is the polygon as PostgreSQL's own
-- geometric type (x = longitude, y = latitude), good for containment at the
-- scale of a town.
CREATE TABLE zones (
    id              uuid PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name_zh         text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 100),
    name_en         text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 100),
    kind            text NOT NULL CHECK (kind IN ('station', 'area')),
    lat             double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng             double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    radius_m        integer CHECK (radius_m BETWEEN 10 AND 5000),
    capacity        integer CHECK (capacity BETWEEN 1 AND 10000),
    geojson         jsonb,
    area            polygon,
    buffer_minutes  integer NOT NULL DEFAULT 15 CHECK (buffer_minutes BETWEEN 0 AND 240),
    one_way_returns boolean NOT NULL DEFAULT true,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'station' AND radius_m IS NOT NULL AND capacity IS NOT NULL AND area IS NULL)
        OR (kind = 'area' AND area IS NOT NULL AND geojson IS NOT NULL))
);
CREATE INDEX zones_earth_idx ON zones USING gist (ll_to_earth(lat, lng));

CREATE TABLE vehicle_models (
    id          uuid PRIMARY KEY,
    make        text NOT NULL CHECK (length(make) BETWEEN 1 AND 60),
    model       text NOT NULL CHECK (length(model) BETWEEN 1 AND 60),
    powertrain  text NOT NULL CHECK (powertrain IN ('bev', 'phev', 'ice')),
    seats       integer NOT NULL CHECK (seats BETWEEN 1 AND 9),
    range_km    integer NOT NULL CHECK (range_km BETWEEN 1 AND 2000),
    battery_kwh numeric(6, 1) CHECK (battery_kwh > 0),
    image_url   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (make, model),
    CHECK ((powertrain = 'ice') = (battery_kwh IS NULL))
);

-- Vehicles keep their latest telemetry in place; lat/lng start at the home
-- zone. A vehicle with history is retired, never deleted.
CREATE TABLE vehicles (
    id                uuid PRIMARY KEY,
    vin               text NOT NULL UNIQUE CHECK (vin ~ '^[A-HJ-NPR-Z0-9]{17}$'),
    plate             text NOT NULL UNIQUE CHECK (length(plate) BETWEEN 2 AND 16),
    model_id          uuid NOT NULL REFERENCES vehicle_models (id),
    home_zone_id      uuid NOT NULL REFERENCES zones (id),
    status            text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'maintenance', 'retired')),
    features          text[] NOT NULL DEFAULT '{}',
    device_token_hash bytea NOT NULL UNIQUE,
    lat               double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng               double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    battery_pct       integer CHECK (battery_pct BETWEEN 0 AND 100),
    odometer_km       numeric(10, 1) CHECK (odometer_km >= 0),
    locked            boolean NOT NULL DEFAULT true,
    telemetry_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicles_zone_idx ON vehicles (home_zone_id, status);
CREATE INDEX vehicles_created_idx ON vehicles (created_at, id);
-- Nearest-first scans (ORDER BY point <-> point LIMIT n) and radius filters.
CREATE INDEX vehicles_point_idx ON vehicles USING gist (point(lng, lat));
CREATE INDEX vehicles_earth_idx ON vehicles USING gist (ll_to_earth(lat, lng));

-- Who changed a vehicle's status, when, and why.
CREATE TABLE vehicle_status_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vehicle_id  uuid NOT NULL REFERENCES vehicles (id),
    from_status text,
    to_status   text NOT NULL,
    reason      text NOT NULL,
    changed_by  uuid REFERENCES users (id),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicle_status_changes_vehicle_idx ON vehicle_status_changes (vehicle_id, changed_at);

-- Occupancy: one row per thing that holds a car for a period — a reservation
-- or a maintenance block. held is the period widened at its end by the home
-- zone's turnaround buffer. The exclusion constraint makes a double booking
-- impossible on every code path: two live rows of one car never overlap.
-- Half-open ranges let one holding end exactly where the next begins.
CREATE TABLE occupancy (
    id             uuid PRIMARY KEY,
    vehicle_id     uuid NOT NULL REFERENCES vehicles (id),
    kind           text NOT NULL CHECK (kind IN ('reservation', 'block')),
    period         tstzrange NOT NULL CHECK (NOT isempty(period) AND lower_inc(period) AND NOT upper_inc(period)),
    held           tstzrange NOT NULL,
    buffer_minutes integer NOT NULL CHECK (buffer_minutes >= 0),
    live           boolean NOT NULL DEFAULT true,
    reason         text,
    reservation_id uuid,
    created_by     uuid REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    released_by    uuid REFERENCES users (id),
    CHECK (held = tstzrange(lower(period), upper(period) + make_interval(mins => buffer_minutes), '[)')),
    CHECK (live = (released_at IS NULL)),
    CHECK ((kind = 'reservation') = (reservation_id IS NOT NULL)),
    CONSTRAINT occupancy_no_overlap EXCLUDE USING gist (vehicle_id WITH =, held WITH &&) WHERE (live)
);
CREATE INDEX occupancy_vehicle_idx ON occupancy USING gist (vehicle_id, period);
CREATE INDEX occupancy_live_start_idx ON occupancy (vehicle_id, lower(period)) WHERE live;
CREATE UNIQUE INDEX occupancy_reservation_idx ON occupancy (reservation_id) WHERE reservation_id IS NOT NULL;

-- Telemetry history. The primary key makes a repeated reading a no-op and
-- serves per-vehicle time lookups; BRIN keeps time-range scans and pruning
-- cheap as the table grows. At millions of readings a day, move to monthly
-- range partitions on recorded_at (the key already includes it) and drop old
-- partitions instead of deleting.
CREATE TABLE telemetry_readings (
    vehicle_id  uuid NOT NULL REFERENCES vehicles (id),
    recorded_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    lat         double precision NOT NULL,
    lng         double precision NOT NULL,
    battery_pct integer NOT NULL,
    odometer_km numeric(10, 1) NOT NULL,
    locked      boolean NOT NULL,
    PRIMARY KEY (vehicle_id, recorded_at)
);
CREATE INDEX telemetry_readings_time_brin ON telemetry_readings USING brin (recorded_at);

-- +goose Down
DROP TABLE telemetry_readings;
DROP TABLE occupancy;
DROP TABLE vehicle_status_changes;
DROP TABLE vehicles;
DROP TABLE vehicle_models;
DROP TABLE zones;
