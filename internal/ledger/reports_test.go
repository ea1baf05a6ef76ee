package ledger_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// TestReportsAsOfNow: an open hold is an outstanding authorisation with its
// age; a capture Stripe declined awaits action until a later payment of its
// purpose succeeds; released and captured holds are in neither.
func TestReportsAsOfNow(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.resident(t)
	open := e.authorized(t, other(), 8800)
	released := e.authorized(t, other(), 100)
	if _, err := e.pay.Release(ctx, released.ID); err != nil {
		t.Fatal(err)
	}
	e.captured(t, other(), 500, 500)
	purpose := other()
	hold := e.authorized(t, purpose, 6600)
	e.proxy.fail("POST", "/capture", 1, 402, declined)
	if _, err := e.pay.Capture(ctx, hold.ID, 6000); err == nil {
		t.Fatal("the declined capture succeeded")
	}
	// Ninety minutes later, the open hold's age shows it.
	aged := ledger.NewService(e.db, ledger.Options{Now: func() time.Time { return time.Now().Add(90 * time.Minute) }, Log: quiet})

	holds, err := aged.OutstandingAuthorizations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs := holds.Records()
	if len(recs) != 1 || recs[0]["payment_id"] != open.ID || recs[0]["amount"] != int64(8800) ||
		recs[0]["age_minutes"].(int64) < 89 || recs[0]["age_minutes"].(int64) > 91 {
		t.Errorf("outstanding holds %v, want the open one, 90 minutes old", recs)
	}
	failed, err := e.led.FailedCaptures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if recs := failed.Records(); len(recs) != 1 || recs[0]["payment_id"] != hold.ID || recs[0]["amount"] != int64(6000) ||
		recs[0]["failure_code"] != "insufficient_funds" {
		t.Errorf("failed captures %v", recs)
	}
	var b bytes.Buffer
	if err := failed.WriteCSV(&b, e.led.Location()); err != nil || !strings.Contains(b.String(), ",CNY,60.00,insufficient_funds,") {
		t.Errorf("failed captures CSV %q, %v", b.String(), err)
	}
	// The resident pays it off-session: nothing awaits action.
	e.charged(t, purpose, 6000)
	if failed, _ = e.led.FailedCaptures(ctx); len(failed.Rows) != 0 {
		t.Errorf("failed captures after the charge: %v", failed.Records())
	}
}

// TestJournalPagesAndFilters pages through the journal in the order
// entries occurred and filters it by account, event, payment and period.
func TestJournalPagesAndFilters(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.resident(t)
	a := e.captured(t, other(), 1000, 1000)
	e.captured(t, other(), 2000, 2000)
	e.refund(t, a, 300)

	var all []ledger.Entry
	req := page.Request{Limit: 2}
	for {
		es, next, err := e.led.Journal(ctx, ledger.JournalFilter{}, req)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, es...)
		if next == nil {
			break
		}
		if req, err = page.Parse("2", *next); err != nil {
			t.Fatal(err)
		}
	}
	if len(all) != 5 {
		t.Fatalf("%d entries over the pages, want 5 (two holds, two captures, a refund)", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].OccurredAt.Before(all[i-1].OccurredAt) {
			t.Errorf("entry %d occurred before the one before it", i)
		}
	}
	count := func(f ledger.JournalFilter) int {
		es, _, err := e.led.Journal(ctx, f, pageAll)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	today := time.Now().In(e.led.Location())
	p, _ := e.led.ParsePeriod(today.Format(time.DateOnly), today.Format(time.DateOnly))
	old, _ := e.led.ParsePeriod("2020-01-01", "2020-01-31")
	id := a.ID
	for name, got := range map[string][2]int{
		"account refunds":    {count(ledger.JournalFilter{Account: "refunds"}), 1},
		"event capture":      {count(ledger.JournalFilter{Event: ledger.EventCapture}), 2},
		"payment a":          {count(ledger.JournalFilter{PaymentID: &id}), 3},
		"today":              {count(ledger.JournalFilter{Period: &p}), 5},
		"another year":       {count(ledger.JournalFilter{Period: &old}), 0},
		"another payment id": {count(ledger.JournalFilter{PaymentID: ptr(uuid.New())}), 0},
	} {
		if got[0] != got[1] {
			t.Errorf("%s: %d entries, want %d", name, got[0], got[1])
		}
	}
}

func ptr[T any](v T) *T { return &v }
