package main

import (
	"testing"
	"time"

	"github.com/hongqi-mobility/mobility/internal/config"
)

func TestBookingRulesComeFromTheConfiguration(t *testing.T) {
	env := map[string]string{"BOOKING_MIN_LENGTH": "1h", "BOOKING_MAX_LENGTH": "48h", "BOOKING_MIN_NOTICE": "20m",
		"BOOKING_HORIZON": "168h", "BOOKING_MAX_UPCOMING": "5", "BOOKING_HOLD": "5m", "BOOKING_GRACE": "10m"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	r := bookingRules(cfg.Booking)
	if r.MinLength != time.Hour || r.MaxLength != 48*time.Hour || r.MinNotice != 20*time.Minute || r.Horizon != 168*time.Hour ||
		r.MaxUpcoming != 5 || r.HoldFor != 5*time.Minute || r.Grace != 10*time.Minute {
		t.Errorf("rules %+v do not follow the configuration %+v", r, cfg.Booking)
	}
	if r.UnlockEarly != 15*time.Minute {
		t.Errorf("unlock window opens %s before the start, want 15m", r.UnlockEarly)
	}
}
