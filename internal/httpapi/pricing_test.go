package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// evRules are the rules of the test plan: ¥5 unlock, ¥0.80/min, ¥35/h,
// ¥198/day capped at ¥198, 13 % VAT, peaks on weekday mornings.
func evRules() map[string]any {
	return map[string]any{
		"currency": "CNY", "unlock_fee": 500, "per_minute": 80, "per_hour": 3500, "per_day": 19800, "daily_cap": 19800,
		"included_km_per_day": 150, "per_km": 60, "night_start": "23:00", "night_end": "06:00", "night_multiplier_bp": 11000,
		"peaks":              []map[string]any{{"start": "07:30", "end": "09:30", "days": []string{"mon", "tue", "wed", "thu", "fri"}}},
		"peak_multiplier_bp": 12000, "late_fee_per_15_min": 2000, "low_battery_threshold_pct": 20, "low_battery_fee": 3000,
		"out_of_zone_fee": 5000, "cleaning_fee": 8000, "cancel_free_hours": 2, "cancel_pct_bp": 2000, "no_show_fee": 5000,
		"vat_rate_bp": 1300,
	}
}

// nextWeekday returns 10:00 Asia/Shanghai on the next weekday at least a day away.
func nextWeekday(t *testing.T) time.Time {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	d := time.Now().In(loc).AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 10, 0, 0, 0, loc)
}

type quoteOut struct {
	ID          string
	PlanID      string `json:"plan_id"`
	PlanVersion int    `json:"plan_version"`
	Subtotal    int64
	VAT         int64
	Total       int64
	Lines       []struct {
		Code     string
		Quantity int64
		Amount   int64
	}
}

func TestPricingPlansAndQuotes(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	op := h.cl.As(f.op.AccessToken)
	resident := h.account(t, "quoter@example.cn", identity.RoleResident)
	vehicleID, _ := f.addVehicle(t, h, 1)
	start := nextWeekday(t)

	// A car without a plan has no price yet.
	quote := map[string]any{"vehicle_id": vehicleID, "start": start.Format(time.RFC3339), "end": start.Add(135 * time.Minute).Format(time.RFC3339)}
	h.cl.As(resident.AccessToken).Post("/v1/quotes", quote).Problem(409, "no_pricing_plan")

	bad := evRules()
	bad["per_hour"] = -1
	bad["night_start"] = "25:00"
	p := op.Unchecked().Post("/v1/pricing-plans", map[string]any{"code": "town-ev", "name_zh": "小镇电动车", "name_en": "Town EV", "rules": bad}).Problem(400, "validation_failed")
	if !p.HasField("rules.night_start") {
		t.Errorf("errors %+v", p.Errors)
	}
	bad["night_start"] = "23:00"
	if p := op.Unchecked().Post("/v1/pricing-plans", map[string]any{"code": "town-ev", "name_zh": "小镇电动车", "name_en": "Town EV", "rules": bad}).Problem(400, "validation_failed"); !p.HasField("rules.per_hour") {
		t.Errorf("errors %+v", p.Errors)
	}

	plan := op.Post("/v1/pricing-plans", map[string]any{"code": "town-ev", "name_zh": "小镇电动车", "name_en": "Town EV",
		"rules": evRules(), "assignments": []map[string]any{{"model_id": f.modelID}}}).Expect(201).Map()
	planID := plan["id"].(string)
	if plan["version"].(float64) != 1 {
		t.Errorf("new plan version %v", plan["version"])
	}

	// 2 h 15 min on a weekday morning outside the peak: 2 hours + 15 minutes
	// beats 3 hours and 135 minutes.
	var q quoteOut
	h.cl.As(resident.AccessToken).Post("/v1/quotes", quote).Expect(201).JSON(&q)
	wantSub := int64(500 + 2*3500 + 15*80)
	wantVAT := (wantSub*1300 + 5000) / 10000
	if q.Subtotal != wantSub || q.VAT != wantVAT || q.Total != wantSub+wantVAT || q.PlanVersion != 1 || q.PlanID != planID {
		t.Errorf("quote %+v, want subtotal %d vat %d under version 1", q, wantSub, wantVAT)
	}
	var sum int64
	for _, l := range q.Lines {
		if l.Code != "vat" {
			sum += l.Amount
		}
	}
	if sum != q.Subtotal {
		t.Errorf("lines sum to %d, subtotal %d", sum, q.Subtotal)
	}

	// Changing the rules makes version 2; version 1 stays readable, and a
	// booking priced under it keeps its final price.
	v1, err := h.plans.Version(context.Background(), mustUUID(t, planID), 1)
	if err != nil {
		t.Fatal(err)
	}
	final := func(p pricing.Plan) int64 {
		fp, err := pricing.FinalPrice(p, pricing.FinalInput{BookedStart: start, BookedEnd: start.Add(135 * time.Minute),
			ActualEnd: start.Add(140 * time.Minute), Loc: h.cfg.Location, Km: 20, EV: true, EndBatteryPct: 50})
		if err != nil {
			t.Fatal(err)
		}
		return fp.Total
	}
	before := final(v1)
	dearer := evRules()
	dearer["per_hour"] = 4500
	changed := op.Patch("/v1/pricing-plans/"+planID, map[string]any{"rules": dearer}).Expect(200).Map()
	if changed["version"].(float64) != 2 {
		t.Errorf("changed plan version %v", changed["version"])
	}
	h.cl.As(resident.AccessToken).Post("/v1/quotes", quote).Expect(201).JSON(&q)
	if q.PlanVersion != 2 || q.Subtotal != 500+2*4500+15*80 {
		t.Errorf("quote after the change: %+v", q)
	}
	v1again, err := h.plans.Version(context.Background(), mustUUID(t, planID), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := final(v1again); got != before {
		t.Errorf("final price under version 1 moved from %d to %d after the plan changed", before, got)
	}
	if r := h.cl.Get("/v1/pricing-plans/" + planID + "/versions/1").Expect(200).Map()["rules"].(map[string]any); r["per_hour"].(float64) != 3500 {
		t.Errorf("version 1 rules %v", r)
	}
	h.cl.Get("/v1/pricing-plans/"+planID+"/versions/3").Problem(404, "not_found")
	if _, err := h.db.Exec(`UPDATE pricing_plan_versions SET rules = '{}' WHERE plan_id = $1`, planID); err == nil {
		t.Error("a plan version was changed in place")
	}

	// A zone override wins in its zone; the model's default applies elsewhere.
	zoneRules := evRules()
	zoneRules["per_hour"] = 2500
	op.Post("/v1/pricing-plans", map[string]any{"code": "faw-hq-ev", "name_zh": "总部优惠", "name_en": "HQ deal", "rules": zoneRules,
		"assignments": []map[string]any{{"model_id": f.modelID, "zone_id": f.zoneID}}}).Expect(201)
	h.cl.As(resident.AccessToken).Post("/v1/quotes", quote).Expect(201).JSON(&q)
	if q.Subtotal != 500+2*2500+15*80 {
		t.Errorf("zone override not applied: %+v", q)
	}
	byModel := map[string]any{"model_id": f.modelID, "start": quote["start"], "end": quote["end"]}
	h.cl.As(resident.AccessToken).Post("/v1/quotes", byModel).Expect(201).JSON(&q)
	if q.PlanID != planID {
		t.Errorf("model quote without a zone used plan %s, want the default %s", q.PlanID, planID)
	}
	op.Post("/v1/pricing-plans", map[string]any{"code": "dup", "name_zh": "重复", "name_en": "Dup", "rules": evRules(),
		"assignments": []map[string]any{{"model_id": f.modelID}}}).Problem(409, "assignment_taken")

	// Residents read plans; only staff write them.
	if items := h.cl.Get("/v1/pricing-plans").Expect(200).Map()["items"].([]any); len(items) != 2 {
		t.Errorf("%d plans listed", len(items))
	}
	h.cl.As(resident.AccessToken).Post("/v1/pricing-plans", map[string]any{"code": "xy"}).Problem(403, "forbidden")
	op.Patch("/v1/pricing-plans/"+planID, map[string]any{"active": false}).Expect(200)
	if items := h.cl.Get("/v1/pricing-plans").Expect(200).Map()["items"].([]any); len(items) != 1 {
		t.Errorf("%d active plans after deactivating one", len(items))
	}
}

func TestQuoteRefusesBadWindows(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	resident := h.account(t, "windows@example.cn", identity.RoleResident)
	vehicleID, _ := f.addVehicle(t, h, 1)
	start := nextWeekday(t)
	cl := h.cl.As(resident.AccessToken).Unchecked()
	tests := []struct {
		name       string
		start, end time.Time
		field      string
	}{
		{"in the past", time.Now().Add(-time.Hour).Truncate(time.Minute), time.Now().Add(time.Hour).Truncate(time.Minute), "start"},
		{"not a whole minute", start.Add(30 * time.Second), start.Add(time.Hour), "start"},
		{"end before start", start, start.Add(-time.Hour), "end"},
		{"too short", start, start.Add(20 * time.Minute), "end"},
		{"too long", start, start.Add(31 * 24 * time.Hour), "end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cl.Post("/v1/quotes", map[string]any{"vehicle_id": vehicleID, "start": tt.start.Format(time.RFC3339), "end": tt.end.Format(time.RFC3339)}).Problem(400, "validation_failed")
			if !p.HasField(tt.field) {
				t.Errorf("errors %+v do not name %s", p.Errors, tt.field)
			}
		})
	}
	window := map[string]any{"start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339)}
	both := map[string]any{"vehicle_id": vehicleID, "model_id": f.modelID, "start": window["start"], "end": window["end"]}
	if p := cl.Post("/v1/quotes", both).Problem(400, "validation_failed"); !p.HasField("vehicle_id") {
		t.Errorf("errors %+v", p.Errors)
	}
	cl.Post("/v1/quotes", map[string]any{"vehicle_id": uuid.NewString(), "start": window["start"], "end": window["end"]}).Problem(404, "not_found")
	cl.Post("/v1/quotes", map[string]any{"vehicle_id": vehicleID, "start": "soon", "end": window["end"]}).Problem(400, "validation_failed")
}
