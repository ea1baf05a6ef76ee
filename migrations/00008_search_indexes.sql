-- +goose Up
-- Cheaper availability search (measured on 10,000 cars / 1,000,000
-- reservations: 9.4 ms → 3.4 ms a query, one client).
--
-- Each car's position as a point on the earth, computed once when it moves
-- rather than in every search for every car the scan passes (ll_to_earth and
-- its domain checks cost ~13 µs a call); the nearest-first index moves to it.
ALTER TABLE vehicles ADD COLUMN earth cube GENERATED ALWAYS AS (ll_to_earth(lat, lng)::cube) STORED;
DROP INDEX vehicles_earth_idx;
CREATE INDEX vehicles_earth_idx ON vehicles USING gist (earth);
-- Unused since the search moved to earthdistance; every position update paid for it.
DROP INDEX vehicles_point_idx;

-- A car's live holdings never overlap (the exclusion constraint), so they
-- sort the same by start and by end: the first one ending after a window's
-- start is the only one that can overlap the window. One btree descent finds
-- it (~10 µs a car, against ~35 µs for the same question to the GiST index).
CREATE INDEX occupancy_live_end_idx ON occupancy (vehicle_id, upper(held), lower(held)) WHERE live;

-- +goose Down
DROP INDEX occupancy_live_end_idx;
CREATE INDEX vehicles_point_idx ON vehicles USING gist (point(lng, lat));
DROP INDEX vehicles_earth_idx;
ALTER TABLE vehicles DROP COLUMN earth;
CREATE INDEX vehicles_earth_idx ON vehicles USING gist (ll_to_earth(lat, lng));
