package demo

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
)

// townRules are the common terms of the demo plans; each plan sets its rates.
func townRules(unlock, perMinute, perHour, perDay, cap int64) plans.Rules {
	weekdays := []string{"mon", "tue", "wed", "thu", "fri"}
	return plans.Rules{
		Currency: "CNY", UnlockFee: unlock, PerMinute: perMinute, PerHour: perHour, PerDay: perDay, DailyCap: cap,
		IncludedKmPerDay: 150, PerKm: 60,
		NightStart: "23:00", NightEnd: "06:00", NightMultiplierBP: 11000,
		Peaks:            []plans.Peak{{Start: "07:30", End: "09:30", Days: weekdays}, {Start: "17:00", End: "19:30", Days: weekdays}},
		PeakMultiplierBP: 12000, MemberDiscountBP: 1000,
		LateFeePer15Min: 2000, LowBatteryThresholdPct: 20, LowBatteryFee: 3000, OutOfZoneFee: 5000, CleaningFee: 8000,
		CancelFreeHours: 2, CancelPctBP: 2000, NoShowFee: 5000, VATRateBP: 1300,
	}
}

// demoPlans price the demo models: everyday EVs, premium cars, combustion cars.
var demoPlans = []struct {
	code, zh, en string
	rules        plans.Rules
	models       []string
}{
	{"town-ev", "小镇电动车", "Town EV", townRules(500, 80, 3500, 19800, 19800), []string{"E-QM5", "E-HS3"}},
	{"town-premium", "红旗尊享", "Hongqi Premium", townRules(1000, 150, 6000, 39800, 39800), []string{"E-HS9", "HS7 PHEV"}},
	{"town-classic", "红旗经典燃油车", "Hongqi Classic", townRules(500, 70, 3000, 16800, 16800), []string{"H5", "HS5"}},
}

func seedPlans(ctx context.Context, pl *plans.Service, fl *fleet.Service, operator uuid.UUID) error {
	existing, err := pl.List(ctx, true)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, p := range existing {
		have[p.Code] = true
	}
	models, err := fl.Models(ctx)
	if err != nil {
		return err
	}
	byName := map[string]uuid.UUID{}
	for _, m := range models {
		byName[m.Model] = m.ID
	}
	for _, dp := range demoPlans {
		if have[dp.code] {
			continue
		}
		var as []plans.Assignment
		for _, name := range dp.models {
			as = append(as, plans.Assignment{ModelID: byName[name]})
		}
		if _, err := pl.Create(ctx, operator, plans.NewPlan{Code: dp.code, NameZH: dp.zh, NameEN: dp.en, Rules: dp.rules, Assignments: as}); err != nil {
			return fmt.Errorf("seed plan %s: %w", dp.code, err)
		}
	}
	return nil
}
