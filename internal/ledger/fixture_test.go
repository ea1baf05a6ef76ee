package ledger_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

var pageAll = page.Request{Limit: page.MaxLimit}

// fixture is a zone, a model, a car and a plan that reservations made by
// priced can point at: the rows the reservations table requires.
type fixture struct {
	zone, model, vehicle, plan uuid.UUID
}

func (e *env) fixture(t *testing.T) *fixture {
	t.Helper()
	if e.fx != nil {
		return e.fx
	}
	fx := &fixture{zone: uuid.New(), model: uuid.New(), vehicle: uuid.New(), plan: uuid.New()}
	vin := "LFP" + strings.ToUpper(strings.NewReplacer("-", "", "i", "1", "o", "0", "q", "9").Replace(uuid.NewString()))[:14]
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO zones (id, code, name_zh, name_en, kind, lat, lng, radius_m, capacity)
			VALUES ($1, 'dongfeng-st', '东风大街站', 'Dongfeng Street', 'station', 43.83, 125.20, 150, 20)`, []any{fx.zone}},
		{`INSERT INTO vehicle_models (id, make, model, powertrain, seats, range_km, battery_kwh)
			VALUES ($1, 'Hongqi', 'E-QM5', 'bev', 5, 431, 57.0)`, []any{fx.model}},
		{`INSERT INTO vehicles (id, vin, plate, model_id, home_zone_id, device_token_hash, lat, lng)
			VALUES ($1, $2, '吉AD12345', $3, $4, $5, 43.83, 125.20)`, []any{fx.vehicle, vin, fx.model, fx.zone, []byte(vin)}},
		{`INSERT INTO pricing_plans (id, code, name_zh, name_en, current_version) VALUES ($1, 'town', '小镇', 'Town', 1)`, []any{fx.plan}},
		{`INSERT INTO pricing_plan_versions (plan_id, version, rules) VALUES ($1, 1, '{}')`, []any{fx.plan}},
	} {
		if _, err := e.db.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	e.fx = fx
	return fx
}

// priced makes a completed reservation of the env user whose final price
// has lines (code amount pairs, VAT as "vat"), and returns its payment
// purpose. The reservation capability's own rules are not involved: the
// ledger only reads the price.
func (e *env) priced(t *testing.T, lines ...any) payment.Purpose {
	t.Helper()
	fx := e.fixture(t)
	var ls []ledger.PriceLine
	var sub, vat int64
	for i := 0; i < len(lines); i += 2 {
		l := ledger.PriceLine{Code: lines[i].(string), Amount: int64(lines[i+1].(int))}
		ls = append(ls, l)
		if l.Code == "vat" {
			vat += l.Amount
		} else {
			sub += l.Amount
		}
	}
	raw, _ := json.Marshal(ls)
	id := uuid.New()
	start := time.Now().Add(-3 * time.Hour)
	const q = `
		INSERT INTO reservations (id, user_id, vehicle_id, zone_id, status, start_at, end_at, plan_id, plan_version, currency,
			quote_lines, quote_subtotal, quote_vat, quote_total, hold_expires_at, started_at, ended_at,
			final_lines, final_subtotal, final_vat, final_total)
		VALUES ($1, $2, $3, $4, 'completed', $5, $6, $7, 1, 'CNY', $8, $9, $10, $11, $5, $5, $6, $8, $9, $10, $11)`
	if _, err := e.db.Exec(q, id, e.user, fx.vehicle, fx.zone, start, start.Add(2*time.Hour), fx.plan, string(raw), sub, vat, sub+vat); err != nil {
		t.Fatalf("reservation: %v", err)
	}
	return payment.Purpose{Kind: "reservation", ID: id}
}

// other is a purpose that is no reservation.
func other() payment.Purpose { return payment.Purpose{Kind: "goodwill", ID: uuid.New()} }

func fen(n int64) string { return fmt.Sprint(n) }
