package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

var zoneCodeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// geoJSONPolygon is the GeoJSON form of an area: one ring of [lng, lat].
type geoJSONPolygon struct {
	Type        string         `json:"type"`
	Coordinates [][][2]float64 `json:"coordinates"`
}

// ParsePolygon reads a GeoJSON Polygon with a single closed ring (no holes)
// of 4 to 1000 positions.
func ParsePolygon(raw []byte) ([][]Point, error) {
	var g geoJSONPolygon
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil || g.Type != "Polygon" {
		return nil, errors.New("must be a GeoJSON Polygon: {\"type\":\"Polygon\",\"coordinates\":[[[lng,lat],…]]}")
	}
	if len(g.Coordinates) != 1 {
		return nil, errors.New("must have exactly one ring (holes are not supported)")
	}
	ring := g.Coordinates[0]
	if len(ring) < 4 || len(ring) > 1000 {
		return nil, errors.New("the ring must have 4 to 1000 positions")
	}
	if ring[0] != ring[len(ring)-1] {
		return nil, errors.New("the ring must be closed: the last position repeats the first")
	}
	pts := make([]Point, len(ring))
	for i, c := range ring {
		if c[0] < -180 || c[0] > 180 || c[1] < -90 || c[1] > 90 {
			return nil, fmt.Errorf("position %d is not a [longitude, latitude] pair", i)
		}
		pts[i] = Point{Lat: c[1], Lng: c[0]}
	}
	if math.Abs(ringArea(pts)) < 1e-10 {
		return nil, errors.New("the ring encloses no area")
	}
	return [][]Point{pts}, nil
}

// PolygonGeoJSON returns the GeoJSON of a ring.
func PolygonGeoJSON(rings [][]Point) json.RawMessage {
	g := geoJSONPolygon{Type: "Polygon", Coordinates: make([][][2]float64, len(rings))}
	for i, r := range rings {
		for _, p := range r {
			g.Coordinates[i] = append(g.Coordinates[i], [2]float64{p.Lng, p.Lat})
		}
	}
	b, _ := json.Marshal(g)
	return b
}

func ringArea(r []Point) float64 {
	var a float64
	for i := 0; i+1 < len(r); i++ {
		a += r[i].Lng*r[i+1].Lat - r[i+1].Lng*r[i].Lat
	}
	return a / 2
}

// centroid is the mean of a ring's distinct vertices: good enough to sort
// areas by distance within a town.
func centroid(r []Point) Point {
	var c Point
	n := len(r) - 1
	for _, p := range r[:n] {
		c.Lat += p.Lat
		c.Lng += p.Lng
	}
	return Point{Lat: c.Lat / float64(n), Lng: c.Lng / float64(n)}
}

// pgPolygon renders a ring as a PostgreSQL polygon literal, x = longitude.
func pgPolygon(r []Point) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range r[:len(r)-1] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(" + strconv.FormatFloat(p.Lng, 'f', -1, 64) + "," + strconv.FormatFloat(p.Lat, 'f', -1, 64) + ")")
	}
	b.WriteByte(')')
	return b.String()
}

func validPoint(p Point) bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lng >= -180 && p.Lng <= 180 && !(p.Lat == 0 && p.Lng == 0)
}

// validate checks a whole zone, as created or after a change.
func (z *Zone) validate() error {
	var f apperr.Fields
	if !zoneCodeRE.MatchString(z.Code) {
		f.Add("code", "must be 2 to 63 lower-case letters, digits or dashes")
	}
	z.NameZH, z.NameEN = strings.TrimSpace(z.NameZH), strings.TrimSpace(z.NameEN)
	if n := utf8.RuneCountInString(z.NameZH); n < 1 || n > 100 {
		f.Add("name_zh", "must be 1 to 100 characters")
	}
	if n := utf8.RuneCountInString(z.NameEN); n < 1 || n > 100 {
		f.Add("name_en", "must be 1 to 100 characters")
	}
	if z.BufferMinutes < 0 || z.BufferMinutes > 240 {
		f.Add("buffer_minutes", "must be from 0 to 240")
	}
	switch z.Kind {
	case ZoneStation:
		if !validPoint(z.Center) {
			f.Add("location", "a station needs a location with lat in [-90, 90] and lng in [-180, 180]")
		}
		if z.RadiusM == nil || *z.RadiusM < 10 || *z.RadiusM > 5000 {
			f.Add("radius_m", "a station needs a radius from 10 to 5000 m")
		}
		if z.Capacity == nil || *z.Capacity < 1 || *z.Capacity > 10000 {
			f.Add("capacity", "a station needs a parking capacity from 1 to 10000")
		}
		if z.Polygon != nil {
			f.Add("polygon", "a station has a location and a radius, not a polygon")
		}
	case ZoneArea:
		if z.Polygon == nil {
			f.Add("polygon", "an area needs a GeoJSON polygon")
		} else {
			z.Center = centroid(z.Polygon[0])
		}
		if z.RadiusM != nil || z.Capacity != nil {
			f.Add("radius_m", "an area has a polygon, not a radius or capacity")
		}
	default:
		f.Add("kind", "must be station or area")
	}
	return f.Err()
}

type zoneRow struct {
	ID            uuid.UUID      `db:"id"`
	Code          string         `db:"code"`
	NameZH        string         `db:"name_zh"`
	NameEN        string         `db:"name_en"`
	Kind          string         `db:"kind"`
	Lat           float64        `db:"lat"`
	Lng           float64        `db:"lng"`
	RadiusM       sql.NullInt64  `db:"radius_m"`
	Capacity      sql.NullInt64  `db:"capacity"`
	GeoJSON       sql.NullString `db:"geojson"`
	BufferMinutes int            `db:"buffer_minutes"`
	OneWayReturns bool           `db:"one_way_returns"`
	Active        bool           `db:"active"`
	CreatedAt     time.Time      `db:"created_at"`
	UpdatedAt     time.Time      `db:"updated_at"`
}

const zoneColumns = `id, code, name_zh, name_en, kind, lat, lng, radius_m, capacity, geojson,
	buffer_minutes, one_way_returns, active, created_at, updated_at`

func (r zoneRow) zone() Zone {
	z := Zone{
		ID: r.ID, Code: r.Code, NameZH: r.NameZH, NameEN: r.NameEN, Kind: ZoneKind(r.Kind),
		Center: Point{Lat: r.Lat, Lng: r.Lng}, BufferMinutes: r.BufferMinutes,
		OneWayReturns: r.OneWayReturns, Active: r.Active, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.RadiusM.Valid {
		v := int(r.RadiusM.Int64)
		z.RadiusM = &v
	}
	if r.Capacity.Valid {
		v := int(r.Capacity.Int64)
		z.Capacity = &v
	}
	if r.GeoJSON.Valid {
		z.Polygon, _ = ParsePolygon([]byte(r.GeoJSON.String))
	}
	return z
}

func zoneArgs(z Zone) map[string]any {
	args := map[string]any{
		"id": z.ID, "code": z.Code, "name_zh": z.NameZH, "name_en": z.NameEN, "kind": string(z.Kind),
		"lat": z.Center.Lat, "lng": z.Center.Lng, "radius_m": z.RadiusM, "capacity": z.Capacity,
		"geojson": nil, "area": nil, "buffer_minutes": z.BufferMinutes,
		"one_way_returns": z.OneWayReturns, "active": z.Active, "now": z.UpdatedAt,
	}
	if z.Polygon != nil {
		args["geojson"] = string(PolygonGeoJSON(z.Polygon))
		args["area"] = pgPolygon(z.Polygon[0])
	}
	return args
}

// CreateZone adds a zone.
func (s *Service) CreateZone(ctx context.Context, z Zone) (Zone, error) {
	if err := z.validate(); err != nil {
		return Zone{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Zone{}, err
	}
	z.ID = id
	z.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	z.UpdatedAt = z.CreatedAt
	const q = `
		INSERT INTO zones (id, code, name_zh, name_en, kind, lat, lng, radius_m, capacity, geojson, area,
		                   buffer_minutes, one_way_returns, active, created_at, updated_at)
		VALUES (:id, :code, :name_zh, :name_en, :kind, :lat, :lng, :radius_m, :capacity, :geojson, CAST(:area AS polygon),
		        :buffer_minutes, :one_way_returns, :active, :now, :now)`
	if _, err := s.db.NamedExecContext(ctx, q, zoneArgs(z)); err != nil {
		if db.Constraint(err) == "zones_code_key" {
			return Zone{}, apperr.New(apperr.KindConflict, "zone_code_taken", "a zone with code "+z.Code+" already exists")
		}
		return Zone{}, fmt.Errorf("insert zone: %w", db.Translate(err))
	}
	return s.Zone(ctx, id)
}

// ZoneChange is a partial update of a zone; nil fields stay.
type ZoneChange struct {
	NameZH        *string
	NameEN        *string
	Location      *Point
	RadiusM       *int
	Capacity      *int
	Polygon       [][]Point
	BufferMinutes *int
	OneWayReturns *bool
	Active        *bool
}

// UpdateZone applies ch to zone id.
func (s *Service) UpdateZone(ctx context.Context, id uuid.UUID, ch ZoneChange) (Zone, error) {
	z, err := s.Zone(ctx, id)
	if err != nil {
		return Zone{}, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&z.NameZH, ch.NameZH)
	set(&z.NameEN, ch.NameEN)
	if ch.Location != nil {
		z.Center = *ch.Location
	}
	if ch.RadiusM != nil {
		z.RadiusM = ch.RadiusM
	}
	if ch.Capacity != nil {
		z.Capacity = ch.Capacity
	}
	if ch.Polygon != nil {
		z.Polygon = ch.Polygon
	}
	if ch.BufferMinutes != nil {
		z.BufferMinutes = *ch.BufferMinutes
	}
	if ch.OneWayReturns != nil {
		z.OneWayReturns = *ch.OneWayReturns
	}
	if ch.Active != nil {
		z.Active = *ch.Active
	}
	if err := z.validate(); err != nil {
		return Zone{}, err
	}
	z.UpdatedAt = s.now().UTC()
	const q = `
		UPDATE zones SET name_zh = :name_zh, name_en = :name_en, lat = :lat, lng = :lng, radius_m = :radius_m,
		       capacity = :capacity, geojson = :geojson, area = CAST(:area AS polygon), buffer_minutes = :buffer_minutes,
		       one_way_returns = :one_way_returns, active = :active, updated_at = :now
		WHERE id = :id`
	if _, err := s.db.NamedExecContext(ctx, q, zoneArgs(z)); err != nil {
		return Zone{}, fmt.Errorf("update zone: %w", db.Translate(err))
	}
	return s.Zone(ctx, id)
}

// Zone returns one zone.
func (s *Service) Zone(ctx context.Context, id uuid.UUID) (Zone, error) {
	var r zoneRow
	if err := db.Get(ctx, s.db, &r, "zone", `SELECT `+zoneColumns+` FROM zones WHERE id = $1`, id); err != nil {
		return Zone{}, err
	}
	return r.zone(), nil
}

// Zones lists every zone, active or not, by code.
func (s *Service) Zones(ctx context.Context) ([]Zone, error) {
	var rows []zoneRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+zoneColumns+` FROM zones ORDER BY code`); err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	out := make([]Zone, len(rows))
	for i, r := range rows {
		out[i] = r.zone()
	}
	return out, nil
}

// ZonesAt returns the active zones that contain p — stations within their
// radius, areas by their polygon — nearest first.
func (s *Service) ZonesAt(ctx context.Context, p Point) ([]Zone, error) {
	const q = `
		SELECT ` + zoneColumns + ` FROM zones
		WHERE active AND (
		      (kind = 'station' AND earth_box(ll_to_earth($1, $2), radius_m) @> ll_to_earth(lat, lng)
		                        AND earth_distance(ll_to_earth($1, $2), ll_to_earth(lat, lng)) <= radius_m)
		   OR (kind = 'area' AND area @> point($2, $1)))
		ORDER BY earth_distance(ll_to_earth($1, $2), ll_to_earth(lat, lng))`
	var rows []zoneRow
	if err := s.db.SelectContext(ctx, &rows, q, p.Lat, p.Lng); err != nil {
		return nil, fmt.Errorf("zones at point: %w", err)
	}
	out := make([]Zone, len(rows))
	for i, r := range rows {
		out[i] = r.zone()
	}
	return out, nil
}
