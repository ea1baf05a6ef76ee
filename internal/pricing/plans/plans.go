package plans

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// Plan is a pricing plan with its current version's rules and assignments.
type Plan struct {
	ID             uuid.UUID
	Code           string
	NameZH, NameEN string
	Active         bool
	Version        int
	Rules          Rules
	Assignments    []Assignment
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Assignment says a plan prices a model, everywhere (ZoneID nil) or in one zone.
type Assignment struct {
	ModelID uuid.UUID
	ZoneID  *uuid.UUID
}

// Options configure the plans service.
type Options struct {
	Now      func() time.Time
	Location *time.Location // the business time zone of nights and peaks
	QuoteTTL time.Duration  // how long a quote holds; 15 minutes when 0
	Log      *slog.Logger
}

// Service stores plans and makes quotes.
type Service struct {
	db   *sqlx.DB
	opts Options
	snap snapshot
}

// SnapshotTTL is how long searches reuse one snapshot of the plans before
// reading them again. A change made through this process is seen at once;
// one made through another instance, within SnapshotTTL. Bookings and
// quotes always read the plans afresh, so a price is never charged stale.
const SnapshotTTL = time.Second

// snapshot is the last Resolver read, shared by concurrent searches (one
// reads, the others wait for it).
type snapshot struct {
	mu  sync.Mutex
	r   Resolver
	at  time.Time
	set bool
}

func (s *snapshot) forget() {
	s.mu.Lock()
	s.set = false
	s.mu.Unlock()
}

// NewService returns the plans service on d.
func NewService(d *sqlx.DB, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location, _ = time.LoadLocation("Asia/Shanghai")
	}
	if o.QuoteTTL == 0 {
		o.QuoteTTL = 15 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Service{db: d, opts: o}
}

var codeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// NewPlan is what an operator gives to make a plan.
type NewPlan struct {
	Code           string
	NameZH, NameEN string
	Rules          Rules
	Assignments    []Assignment
}

func checkNames(f *apperr.Fields, zh, en string) {
	if n := utf8.RuneCountInString(strings.TrimSpace(zh)); n < 1 || n > 100 {
		f.Add("name_zh", "must be 1 to 100 characters")
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(en)); n < 1 || n > 100 {
		f.Add("name_en", "must be 1 to 100 characters")
	}
}

// Create makes a plan at version 1 and assigns it.
func (s *Service) Create(ctx context.Context, by uuid.UUID, np NewPlan) (Plan, error) {
	var f apperr.Fields
	if !codeRE.MatchString(np.Code) {
		f.Add("code", "must be 2 to 63 lower-case letters, digits or dashes")
	}
	checkNames(&f, np.NameZH, np.NameEN)
	if err := f.Err(); err != nil {
		return Plan{}, err
	}
	if _, err := np.Rules.Plan("", 1); err != nil {
		return Plan{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Plan{}, err
	}
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		const q = `
			INSERT INTO pricing_plans (id, code, name_zh, name_en, active, current_version)
			VALUES ($1, $2, $3, $4, true, 1)`
		if _, err := tx.ExecContext(ctx, q, id, np.Code, strings.TrimSpace(np.NameZH), strings.TrimSpace(np.NameEN)); err != nil {
			if db.Constraint(err) == "pricing_plans_code_key" {
				return apperr.New(apperr.KindConflict, "plan_code_taken", "a plan with code "+np.Code+" already exists")
			}
			return fmt.Errorf("insert plan: %w", db.Translate(err))
		}
		if err := addVersion(ctx, tx, id, 1, np.Rules, by); err != nil {
			return err
		}
		return setAssignments(ctx, tx, id, np.Assignments)
	})
	if err != nil {
		return Plan{}, err
	}
	s.snap.forget()
	return s.Plan(ctx, id)
}

func addVersion(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, version int, r Rules, by uuid.UUID) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	const q = `
		INSERT INTO pricing_plan_versions (plan_id, version, rules, created_by)
		VALUES ($1, $2, $3, NULLIF($4, '00000000-0000-0000-0000-000000000000'::uuid))`
	if _, err := tx.ExecContext(ctx, q, id, version, string(raw), by); err != nil {
		return fmt.Errorf("insert plan version: %w", err)
	}
	return nil
}

// setAssignments replaces the plan's assignments; a model (and zone) priced
// by another plan is a conflict.
func setAssignments(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, as []Assignment) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM pricing_assignments WHERE plan_id = $1`, id); err != nil {
		return fmt.Errorf("clear assignments: %w", err)
	}
	for i, a := range as {
		_, err := tx.ExecContext(ctx, `INSERT INTO pricing_assignments (plan_id, model_id, zone_id) VALUES ($1, $2, $3)`, id, a.ModelID, a.ZoneID)
		switch db.Constraint(err) {
		case "pricing_assignments_unique":
			return apperr.New(apperr.KindConflict, "assignment_taken",
				fmt.Sprintf("assignments[%d]: another plan already prices this model there", i))
		case "pricing_assignments_model_id_fkey", "pricing_assignments_zone_id_fkey":
			return apperr.Invalid(fmt.Sprintf("assignments[%d]: no such model or zone", i),
				apperr.FieldError{Field: fmt.Sprintf("assignments[%d]", i), Reason: "no such model or zone"})
		}
		if err != nil {
			return fmt.Errorf("assign plan: %w", err)
		}
	}
	return nil
}

// Change is a partial update of a plan: new rules make a new version.
type Change struct {
	NameZH, NameEN *string
	Active         *bool
	Rules          *Rules
	Assignments    *[]Assignment
}

// Update applies ch. Changing the rules adds a version; bookings keep theirs.
func (s *Service) Update(ctx context.Context, by, id uuid.UUID, ch Change) (Plan, error) {
	cur, err := s.Plan(ctx, id)
	if err != nil {
		return Plan{}, err
	}
	var f apperr.Fields
	zh, en := cur.NameZH, cur.NameEN
	if ch.NameZH != nil {
		zh = *ch.NameZH
	}
	if ch.NameEN != nil {
		en = *ch.NameEN
	}
	checkNames(&f, zh, en)
	if ch.NameZH == nil && ch.NameEN == nil && ch.Active == nil && ch.Rules == nil && ch.Assignments == nil {
		f.Add("(body)", "change at least one of name_zh, name_en, active, rules, assignments")
	}
	if err := f.Err(); err != nil {
		return Plan{}, err
	}
	if ch.Rules != nil {
		if _, err := ch.Rules.Plan("", 1); err != nil {
			return Plan{}, err
		}
	}
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var version int
		// Lock the plan: two concurrent changes make versions n+1 and n+2.
		if err := tx.GetContext(ctx, &version, `SELECT current_version FROM pricing_plans WHERE id = $1 FOR UPDATE`, id); err != nil {
			return fmt.Errorf("lock plan: %w", err)
		}
		if ch.Rules != nil {
			version++
			if err := addVersion(ctx, tx, id, version, *ch.Rules, by); err != nil {
				return err
			}
		}
		const q = `
			UPDATE pricing_plans SET name_zh = $2, name_en = $3, active = COALESCE($4, active),
			       current_version = $5, updated_at = now()
			WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, id, strings.TrimSpace(zh), strings.TrimSpace(en), ch.Active, version); err != nil {
			return fmt.Errorf("update plan: %w", err)
		}
		if ch.Assignments != nil {
			return setAssignments(ctx, tx, id, *ch.Assignments)
		}
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	s.snap.forget()
	return s.Plan(ctx, id)
}

type planRow struct {
	ID        uuid.UUID `db:"id"`
	Code      string    `db:"code"`
	NameZH    string    `db:"name_zh"`
	NameEN    string    `db:"name_en"`
	Active    bool      `db:"active"`
	Version   int       `db:"current_version"`
	Rules     []byte    `db:"rules"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

const planQuery = `
	SELECT p.id, p.code, p.name_zh, p.name_en, p.active, p.current_version, v.rules, p.created_at, p.updated_at
	FROM pricing_plans p JOIN pricing_plan_versions v ON v.plan_id = p.id AND v.version = p.current_version`

func (s *Service) plans(ctx context.Context, where string, args ...any) ([]Plan, error) {
	var rows []planRow
	if err := s.db.SelectContext(ctx, &rows, planQuery+where+` ORDER BY p.code`, args...); err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	var as []struct {
		PlanID  uuid.UUID  `db:"plan_id"`
		ModelID uuid.UUID  `db:"model_id"`
		ZoneID  *uuid.UUID `db:"zone_id"`
	}
	if err := s.db.SelectContext(ctx, &as, `SELECT plan_id, model_id, zone_id FROM pricing_assignments ORDER BY id`); err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	out := make([]Plan, len(rows))
	for i, r := range rows {
		p := Plan{ID: r.ID, Code: r.Code, NameZH: r.NameZH, NameEN: r.NameEN, Active: r.Active, Version: r.Version,
			CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Assignments: []Assignment{}}
		if err := json.Unmarshal(r.Rules, &p.Rules); err != nil {
			return nil, fmt.Errorf("plan %s rules: %w", r.Code, err)
		}
		for _, a := range as {
			if a.PlanID == r.ID {
				p.Assignments = append(p.Assignments, Assignment{ModelID: a.ModelID, ZoneID: a.ZoneID})
			}
		}
		out[i] = p
	}
	return out, nil
}

// Plan returns a plan with its current version.
func (s *Service) Plan(ctx context.Context, id uuid.UUID) (Plan, error) {
	ps, err := s.plans(ctx, ` WHERE p.id = $1`, id)
	if err != nil {
		return Plan{}, err
	}
	if len(ps) == 0 {
		return Plan{}, apperr.NotFound("pricing plan")
	}
	return ps[0], nil
}

// List returns the plans by code; inactive ones only when asked.
func (s *Service) List(ctx context.Context, includeInactive bool) ([]Plan, error) {
	return s.plans(ctx, ` WHERE p.active OR $1`, includeInactive)
}

// Version returns one version of a plan as the pricing core's plan: the rules
// a booking was priced under, whatever the plan says now.
func (s *Service) Version(ctx context.Context, id uuid.UUID, version int) (pricing.Plan, error) {
	var raw []byte
	const q = `SELECT rules FROM pricing_plan_versions WHERE plan_id = $1 AND version = $2`
	if err := db.Get(ctx, s.db, &raw, "pricing plan version", q, id, version); err != nil {
		return pricing.Plan{}, err
	}
	var r Rules
	if err := json.Unmarshal(raw, &r); err != nil {
		return pricing.Plan{}, fmt.Errorf("plan version rules: %w", err)
	}
	return r.Plan(id.String(), version)
}

// VersionRules returns one version's rules as stored.
func (s *Service) VersionRules(ctx context.Context, id uuid.UUID, version int) (Rules, time.Time, error) {
	var row struct {
		Rules     []byte    `db:"rules"`
		CreatedAt time.Time `db:"created_at"`
	}
	const q = `SELECT rules, created_at FROM pricing_plan_versions WHERE plan_id = $1 AND version = $2`
	if err := db.Get(ctx, s.db, &row, "pricing plan version", q, id, version); err != nil {
		return Rules{}, time.Time{}, err
	}
	var r Rules
	err := json.Unmarshal(row.Rules, &r)
	return r, row.CreatedAt.UTC(), err
}

// ForModel returns the active plan, in its current version, that prices
// modelID in zoneID: the zone's override when there is one, else the
// model's default.
func (s *Service) ForModel(ctx context.Context, modelID uuid.UUID, zoneID *uuid.UUID) (pricing.Plan, error) {
	const q = `
		SELECT p.id, p.current_version, v.rules
		FROM pricing_assignments a
		JOIN pricing_plans p ON p.id = a.plan_id AND p.active
		JOIN pricing_plan_versions v ON v.plan_id = p.id AND v.version = p.current_version
		WHERE a.model_id = $1 AND (a.zone_id IS NULL OR a.zone_id = $2)
		ORDER BY a.zone_id IS NULL
		LIMIT 1`
	var row struct {
		ID      uuid.UUID `db:"id"`
		Version int       `db:"current_version"`
		Rules   []byte    `db:"rules"`
	}
	err := s.db.GetContext(ctx, &row, q, modelID, zoneID)
	if errors.Is(err, sql.ErrNoRows) {
		return pricing.Plan{}, apperr.New(apperr.KindConflict, "no_pricing_plan", "this car has no price yet: no active pricing plan covers its model")
	}
	if err != nil {
		return pricing.Plan{}, fmt.Errorf("plan for model: %w", err)
	}
	var r Rules
	if err := json.Unmarshal(row.Rules, &r); err != nil {
		return pricing.Plan{}, err
	}
	return r.Plan(row.ID.String(), row.Version)
}

// Resolver finds the plan of any model and zone from one snapshot, so a
// search prices every car with one query.
type Resolver struct {
	byKey map[[2]uuid.UUID]pricing.Plan // (model, zone or uuid.Nil) → plan
}

// For returns the plan pricing modelID in zoneID: the zone's override, else
// the model's default.
func (r Resolver) For(modelID, zoneID uuid.UUID) (pricing.Plan, bool) {
	if p, ok := r.byKey[[2]uuid.UUID{modelID, zoneID}]; ok {
		return p, true
	}
	p, ok := r.byKey[[2]uuid.UUID{modelID, uuid.Nil}]
	return p, ok
}

// Resolver returns every active assignment with its plan's current
// version, from a snapshot at most SnapshotTTL old (the search runs it on
// every request; reading and decoding every plan each time cost ~0.3 ms).
func (s *Service) Resolver(ctx context.Context) (Resolver, error) {
	s.snap.mu.Lock()
	defer s.snap.mu.Unlock()
	if s.snap.set && time.Since(s.snap.at) < SnapshotTTL {
		return s.snap.r, nil
	}
	r, err := s.loadResolver(ctx)
	if err != nil {
		return Resolver{}, err
	}
	s.snap.r, s.snap.at, s.snap.set = r, time.Now(), true
	return r, nil
}

// loadResolver reads every active assignment with its plan's current version.
func (s *Service) loadResolver(ctx context.Context) (Resolver, error) {
	const q = `
		SELECT a.model_id, a.zone_id, p.id, p.current_version, v.rules
		FROM pricing_assignments a
		JOIN pricing_plans p ON p.id = a.plan_id AND p.active
		JOIN pricing_plan_versions v ON v.plan_id = p.id AND v.version = p.current_version`
	var rows []struct {
		ModelID uuid.UUID  `db:"model_id"`
		ZoneID  *uuid.UUID `db:"zone_id"`
		ID      uuid.UUID  `db:"id"`
		Version int        `db:"current_version"`
		Rules   []byte     `db:"rules"`
	}
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return Resolver{}, fmt.Errorf("plan snapshot: %w", err)
	}
	r := Resolver{byKey: make(map[[2]uuid.UUID]pricing.Plan, len(rows))}
	for _, row := range rows {
		var rules Rules
		if err := json.Unmarshal(row.Rules, &rules); err != nil {
			return Resolver{}, err
		}
		p, err := rules.Plan(row.ID.String(), row.Version)
		if err != nil {
			return Resolver{}, err
		}
		zone := uuid.Nil
		if row.ZoneID != nil {
			zone = *row.ZoneID
		}
		r.byKey[[2]uuid.UUID{row.ModelID, zone}] = p
	}
	return r, nil
}

// Location is the business time zone plans are priced in.
func (s *Service) Location() *time.Location { return s.opts.Location }
