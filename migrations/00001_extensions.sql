-- +goose Up
-- btree_gist lets one exclusion constraint mix equality on vehicle_id with
-- range overlap on the occupied period; earthdistance (on cube) measures
-- great-circle distances in SQL with a GiST index.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

-- +goose Down
DROP EXTENSION IF EXISTS earthdistance;
DROP EXTENSION IF EXISTS cube;
DROP EXTENSION IF EXISTS btree_gist;
