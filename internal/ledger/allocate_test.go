package ledger_test

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hongqi-mobility/mobility/internal/ledger"
)

func TestAllocate(t *testing.T) {
	trip := []ledger.PriceLine{{"time_hours", 6000}, {"late_fee", 2000}, {"cleaning_fee", 8000}, {"vat", 2080}}
	tests := []struct {
		name           string
		lines          []ledger.PriceLine
		before, amount int64
		want           []ledger.Split
	}{
		{"the whole price", trip, 0, 18080, []ledger.Split{{"rental_revenue", 6000}, {"fee_revenue.late", 2000},
			{"fee_revenue.cleaning", 8000}, {"vat_payable", 2080}}},
		{"the first part", trip, 0, 10000, []ledger.Split{{"rental_revenue", 6000}, {"fee_revenue.late", 2000},
			{"fee_revenue.cleaning", 850}, {"vat_payable", 1150}}},
		{"the rest", trip, 10000, 8080, []ledger.Split{{"fee_revenue.cleaning", 7150}, {"vat_payable", 930}}},
		{"more than the price", trip, 18000, 500, []ledger.Split{{"fee_revenue.cleaning", 70}, {"rental_revenue", 420}, {"vat_payable", 10}}},
		{"after the price", trip, 18080, 300, []ledger.Split{{"rental_revenue", 300}}},
		{"no price", nil, 0, 700, []ledger.Split{{"rental_revenue", 700}}},
		{"no VAT", []ledger.PriceLine{{"no_show_fee", 5000}}, 0, 5000, []ledger.Split{{"fee_revenue.no_show", 5000}}},
		{"unknown codes are rental", []ledger.PriceLine{{"km_overage", 300}, {"unlock_fee", 200}}, 0, 500,
			[]ledger.Split{{"rental_revenue", 500}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ledger.Allocate(tt.lines, tt.before, tt.amount)); diff != "" {
				t.Errorf("Allocate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAllocateProperties splits random prices into random payments: every
// part is positive, each payment's parts sum to it, and all the payments of
// a price together give each account exactly what the price's lines say.
func TestAllocateProperties(t *testing.T) {
	codes := []string{"time_minutes", "time_hours", "unlock_fee", "km_overage", "late_fee", "low_battery_fee",
		"out_of_zone_fee", "cleaning_fee", "cancellation_fee", "no_show_fee"}
	accountOf := map[string]string{"late_fee": "fee_revenue.late", "low_battery_fee": "fee_revenue.low_battery",
		"out_of_zone_fee": "fee_revenue.out_of_zone", "cleaning_fee": "fee_revenue.cleaning",
		"cancellation_fee": "fee_revenue.cancellation", "no_show_fee": "fee_revenue.no_show"}
	r := rand.New(rand.NewPCG(7, 2026))
	for range 2000 {
		var lines []ledger.PriceLine
		want := map[string]int64{}
		var total int64
		for range 1 + r.IntN(6) {
			code := codes[r.IntN(len(codes))]
			amount := r.Int64N(50000)
			lines = append(lines, ledger.PriceLine{Code: code, Amount: amount})
			acct := accountOf[code]
			if acct == "" {
				acct = "rental_revenue"
			}
			want[acct] += amount
			total += amount
		}
		vat := total * int64(r.IntN(17)) / 100
		if vat > 0 {
			lines = append(lines, ledger.PriceLine{Code: "vat", Amount: vat})
			want["vat_payable"] = vat
		}
		total += vat
		got := map[string]int64{}
		for paid := int64(0); paid < total; {
			amount := min(total-paid, 1+r.Int64N(total))
			var sum int64
			for _, sp := range ledger.Allocate(lines, paid, amount) {
				if sp.Amount <= 0 {
					t.Fatalf("%v: part %v of %d after %d", lines, sp, amount, paid)
				}
				sum += sp.Amount
				got[sp.Account] += sp.Amount
			}
			if sum != amount {
				t.Fatalf("%v: parts of %d after %d sum to %d", lines, amount, paid, sum)
			}
			paid += amount
		}
		for k, v := range want {
			if v == 0 {
				delete(want, k)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%v: accounts over all payments (-want +got):\n%s", lines, diff)
		}
	}
}

func TestMoneyInMajorUnits(t *testing.T) {
	for _, tt := range []struct {
		minor    int64
		currency string
		major    string
	}{
		{123456, "CNY", "1234.56"}, {-5, "CNY", "-0.05"}, {0, "CNY", "0.00"}, {100, "cny", "1.00"},
		{-120000, "CNY", "-1200.00"}, {500, "JPY", "500"}, {1234, "KWD", "1.234"},
	} {
		if got := ledger.FormatMinor(tt.minor, tt.currency); got != tt.major {
			t.Errorf("FormatMinor(%d, %s) = %q, want %q", tt.minor, tt.currency, got, tt.major)
		}
		if got, err := ledger.ParseMinor(tt.major, tt.currency); err != nil || got != tt.minor {
			t.Errorf("ParseMinor(%q, %s) = %d, %v, want %d", tt.major, tt.currency, got, err, tt.minor)
		}
	}
	for in, want := range map[string]int64{"1,234.5": 123450, "+3": 300, " -0.5 ": -50, ".75": 75} {
		if got, err := ledger.ParseMinor(in, "CNY"); err != nil || got != want {
			t.Errorf("ParseMinor(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.234", "abc", "1.2.3", "--1", "1e5", "12 34", "."} {
		if _, err := ledger.ParseMinor(bad, "CNY"); err == nil {
			t.Errorf("ParseMinor(%q) accepted", bad)
		}
	}
}

// FuzzMoneyRoundTrip: formatting then parsing gives the amount back.
func FuzzMoneyRoundTrip(f *testing.F) {
	f.Add(int64(123456))
	f.Add(int64(-1))
	f.Fuzz(func(t *testing.T, n int64) {
		if n < -1e17 || n > 1e17 {
			return
		}
		s := ledger.FormatMinor(n, "CNY")
		got, err := ledger.ParseMinor(s, "CNY")
		if err != nil || got != n {
			t.Fatalf("%d → %q → %d, %v", n, s, got, err)
		}
	})
}
