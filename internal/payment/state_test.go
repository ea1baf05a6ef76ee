package payment

import "testing"

func TestAdvanceOnlyMovesForward(t *testing.T) {
	for _, tc := range []struct {
		from         Status
		captureTried bool
		to           Status
		declined     bool
		want         bool
	}{
		{StatusPending, false, StatusRequiresAction, false, true},
		{StatusRequiresAction, false, StatusAuthorized, false, true},
		{StatusAuthorized, false, StatusRequiresAction, false, false}, // a stale answer
		{StatusAuthorized, false, StatusSucceeded, false, true},
		{StatusSucceeded, false, StatusAuthorized, false, false}, // a late amount_capturable_updated
		{StatusSucceeded, false, StatusCanceled, false, false},
		{StatusSucceeded, false, StatusFailed, false, false},
		{StatusSucceeded, false, StatusDisputed, false, true},
		{StatusDisputed, false, StatusSucceeded, false, false},
		{StatusCanceled, false, StatusSucceeded, false, false},
		{StatusCanceled, false, StatusAuthorized, false, false},
		{StatusRequiresAction, false, StatusFailed, false, true},
		{StatusFailed, false, StatusAuthorized, false, true}, // the resident retried with another card
		{StatusFailed, true, StatusAuthorized, false, false}, // a declined capture stays failed
		{StatusFailed, true, StatusCanceled, false, true},
		{StatusAuthorized, false, StatusFailed, false, false}, // payment_failed after the hold: stale
		{StatusAuthorized, false, StatusFailed, true, true},   // our capture was declined
		{StatusAuthorized, false, StatusAuthorized, false, false},
	} {
		if got := advance(tc.from, tc.captureTried, tc.to, tc.declined); got != tc.want {
			t.Errorf("advance(%s, tried=%v → %s, declined=%v) = %v, want %v", tc.from, tc.captureTried, tc.to, tc.declined, got, tc.want)
		}
	}
}

func TestEvolveKeepsAmountsMonotoneAndBounded(t *testing.T) {
	p := Payment{Status: StatusAuthorized, AmountAuthorized: 1000, PendingAction: "capture"}
	p, moved, changed := evolve(p, false, observation{Status: StatusSucceeded, AmountCaptured: 1200, ChargeID: "ch_1"})
	if !moved || !changed || p.AmountCaptured != 1000 || p.PendingAction != "" || p.ChargeID != "ch_1" {
		t.Fatalf("capture: %+v", p)
	}
	p, _, _ = evolve(p, false, observation{AmountRefunded: 400})
	p, _, changed = evolve(p, false, observation{AmountRefunded: 300, AmountCaptured: 900, ChargeID: "ch_other"})
	if changed || p.AmountRefunded != 400 || p.AmountCaptured != 1000 || p.ChargeID != "ch_1" {
		t.Errorf("an older report changed the payment: %+v", p)
	}
	p, _, _ = evolve(p, false, observation{AmountRefunded: 5000})
	if p.AmountRefunded != 1000 {
		t.Errorf("refunded %d, want at most the captured 1000", p.AmountRefunded)
	}
}
