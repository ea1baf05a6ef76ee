package httpapi_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// race runs a and b at once and returns their statuses.
func race(a, b func() int) (int, int) {
	var wg sync.WaitGroup
	var sa, sb int
	gate := make(chan struct{})
	wg.Add(2)
	go func() { defer wg.Done(); <-gate; sa = a() }()
	go func() { defer wg.Done(); <-gate; sb = b() }()
	close(gate)
	wg.Wait()
	return sa, sb
}

func exactlyOne(t *testing.T, what string, a, b int) {
	t.Helper()
	if (a == 200) == (b == 200) || (a != 200 && a != 409) || (b != 200 && b != 409) {
		t.Errorf("%s: statuses %d and %d, want exactly one 200 and one 409", what, a, b)
	}
}

func TestRacesHaveOneWinner(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	s := tw.driver(t, h, "racer@example.cn", true)
	for round := 0; round < 5; round++ {
		car := tw.car(t, h, 10+round)
		start := soon()
		var r resOut
		h.book(t, s, car, start, start.Add(time.Hour)).Expect(201).JSON(&r)
		cancel := func() int { return h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/cancel", nil).Status }
		unlock := func() int { return h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/start", nil).Status }
		a, b := race(cancel, unlock)
		exactlyOne(t, "cancel against start", a, b)
		if b != 200 {
			continue // cancelled: nothing to end
		}
		end := func() int { return h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/end", nil).Status }
		a, b = race(end, end)
		exactlyOne(t, "end against end", a, b)
		var captures int
		if err := h.db.Get(&captures, `SELECT count(*) FROM payment_history ph JOIN reservations r ON r.payment_id = ph.payment_id
			WHERE r.id = $1 AND ph.event = 'capture_requested'`, r.ID); err == nil && captures > 1 {
			t.Errorf("%d captures requested for one trip", captures)
		}
	}
}

func TestLifecycleJobs(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := newHarness(t, nil, withClock(clock))
	tw := newTown(t, h)
	ctx := context.Background()

	// An unpaid hold expires after ten minutes and frees the car.
	payer := tw.driver(t, h, "nocard@example.cn", false)
	car := tw.car(t, h, 1)
	start := clock().UTC().Truncate(time.Minute).Add(2 * time.Hour)
	var pending resOut
	h.book(t, payer, car, start, start.Add(time.Hour)).Expect(201).JSON(&pending)
	if pending.Status != "pending_payment" || pending.Payment.ClientSecret == nil {
		t.Fatalf("booking without a card: %+v, want pending with a client secret", pending)
	}
	if n, err := h.res.ExpireHolds(ctx); err != nil || n != 0 {
		t.Fatalf("expired %d before time (%v)", n, err)
	}
	advance(11 * time.Minute)
	if n, err := h.res.ExpireHolds(ctx); err != nil || n != 1 {
		t.Fatalf("expired %d (%v), want 1", n, err)
	}
	var st string
	if err := h.db.Get(&st, `SELECT status FROM reservations WHERE id = $1`, pending.ID); err != nil || st != "expired" {
		t.Errorf("status %s (%v)", st, err)
	}

	// A confirmed booking not unlocked by start + 15 min is a no-show; the fee is captured.
	s := tw.driver(t, h, "noshow@example.cn", true)
	car2 := tw.car(t, h, 2)
	start = clock().UTC().Truncate(time.Minute).Add(time.Minute)
	var r resOut
	h.book(t, s, car2, start, start.Add(time.Hour)).Expect(201).JSON(&r)
	advance(10 * time.Minute)
	if n, _ := h.res.MarkNoShows(ctx); n != 0 {
		t.Fatalf("no-show marked inside the grace period")
	}
	advance(7 * time.Minute)
	if n, err := h.res.MarkNoShows(ctx); err != nil || n != 1 {
		t.Fatalf("no-shows %d (%v)", n, err)
	}
	// The fee is over this short booking's hold: the hold is captured in
	// full and the rest charged off-session (by the worker, run here).
	if _, err := h.pay.queue.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	var fee, authorized, captured, charged int64
	if err := h.db.QueryRow(`SELECT r.final_total, p.amount_authorized, p.amount_captured FROM reservations r
		JOIN payments p ON p.id = r.payment_id WHERE r.id = $1`, r.ID).Scan(&fee, &authorized, &captured); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Get(&charged, `SELECT COALESCE(sum(amount_authorized), 0) FROM payments WHERE purpose_id = $1 AND kind = 'charge'`, r.ID); err != nil {
		t.Fatal(err)
	}
	if fee != 5000+(5000*1300+5000)/10000 || captured != min(fee, authorized) || captured+charged != fee {
		t.Errorf("no-show fee %d: captured %d of a %d hold and charged %d more", fee, captured, authorized, charged)
	}

	// An active trip running into the car's next booking raises an alert.
	// (The clock moved past the access tokens' 15 minutes: sign in again.)
	s = h.login(t, "noshow@example.cn", testPassword)
	tw.op = h.login(t, tw.op.Email, testPassword)
	car3 := tw.car(t, h, 3)
	start = clock().UTC().Truncate(time.Minute).Add(time.Minute)
	h.book(t, s, car3, start, start.Add(time.Hour)).Expect(201).JSON(&r)
	other := tw.driver(t, h, "nextone@example.cn", false)
	h.book(t, other, car3, start.Add(time.Hour+15*time.Minute), start.Add(3*time.Hour)).Expect(201)
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/start", nil).Expect(200)
	advance(50 * time.Minute)
	if n, err := h.res.FlagOverruns(ctx); err != nil || n != 1 {
		t.Fatalf("overruns %d (%v), want 1", n, err)
	}
	op := h.login(t, tw.op.Email, testPassword)
	alerts := h.cl.As(op.AccessToken).Get("/v1/fleet/alerts").Expect(200).Map()["items"].([]any)
	if len(alerts) != 1 || alerts[0].(map[string]any)["kind"] != "overrun" {
		t.Errorf("alerts %v", alerts)
	}
}

func TestAvailabilitySearch(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	s := tw.driver(t, h, "finder@example.cn", false)
	near := tw.car(t, h, 1)
	busy := tw.car(t, h, 2)
	// A car 1.5 km north.
	farID, farTok := tw.addVehicle(t, h, 3)
	far := reading(time.Now().Add(-time.Minute), 90, 500)
	far["lat"] = 43.8446
	telemetry(h, farTok, farID, far).Expect(200)
	// A car too flat to offer.
	flatID, flatTok := tw.addVehicle(t, h, 4)
	telemetry(h, flatTok, flatID, reading(time.Now().Add(-time.Minute), 10, 500)).Expect(200)

	start := time.Now().UTC().Truncate(time.Minute).Add(24 * time.Hour)
	other := tw.driver(t, h, "holder@example.cn", false)
	h.book(t, other, busy, start.Add(-time.Hour), start.Add(-10*time.Minute)).Expect(201) // its turnaround reaches into the window

	q := "/v1/availability?lat=43.8310&lng=125.2010&start=" + start.Format(time.RFC3339) + "&end=" + start.Add(2*time.Hour).Format(time.RFC3339)
	var pg struct {
		Items []struct {
			Vehicle    struct{ ID string }
			DistanceM  int   `json:"distance_m"`
			QuoteTotal int64 `json:"quote_total"`
			Buffer     int   `json:"buffer_minutes"`
		}
		NextCursor *string `json:"next_cursor"`
	}
	h.cl.As(s.AccessToken).Get(q).Expect(200).JSON(&pg)
	if len(pg.Items) != 2 || pg.Items[0].Vehicle.ID != near || pg.Items[1].Vehicle.ID != farID {
		t.Fatalf("offers %+v, want the near car then the far one (not the busy or the flat one)", pg.Items)
	}
	if pg.Items[1].DistanceM < 1400 || pg.Items[1].DistanceM > 1600 || pg.Items[0].QuoteTotal <= 0 || pg.Items[0].Buffer != 15 {
		t.Errorf("offer details %+v", pg.Items)
	}
	// The powertrain filter: the town's cars are all electric.
	h.cl.As(s.AccessToken).Get(q + "&powertrain=bev").Expect(200).JSON(&pg)
	if len(pg.Items) != 2 {
		t.Errorf("powertrain=bev: %d offers, want 2", len(pg.Items))
	}
	h.cl.As(s.AccessToken).Get(q + "&powertrain=ice").Expect(200).JSON(&pg)
	if len(pg.Items) != 0 {
		t.Errorf("powertrain=ice: %d offers, want none", len(pg.Items))
	}
	// A small radius leaves the far car out; a page of one has a next page.
	h.cl.As(s.AccessToken).Get(q + "&radius_m=500").Expect(200).JSON(&pg)
	if len(pg.Items) != 1 {
		t.Errorf("radius 500 m: %d offers", len(pg.Items))
	}
	h.cl.As(s.AccessToken).Get(q + "&limit=1").Expect(200).JSON(&pg)
	if len(pg.Items) != 1 || pg.NextCursor == nil {
		t.Fatalf("first page %+v", pg)
	}
	h.cl.As(s.AccessToken).Get(q + "&limit=1&cursor=" + *pg.NextCursor).Expect(200).JSON(&pg)
	if len(pg.Items) != 1 || pg.Items[0].Vehicle.ID != farID {
		t.Errorf("second page %+v", pg.Items)
	}
	// Three cars parked at one spot tie on distance: paging two at a time
	// still shows every free car exactly once, nearest first.
	for i := 5; i < 8; i++ {
		id, tok := tw.addVehicle(t, h, i)
		twin := reading(time.Now().Add(-time.Minute), 90, 500)
		twin["lat"] = 43.8380
		telemetry(h, tok, id, twin).Expect(200)
	}
	seen, last, cursor := map[string]bool{}, -1, ""
	for pages := 0; pages < 10; pages++ {
		h.cl.As(s.AccessToken).Get(q + "&limit=2" + cursor).Expect(200).JSON(&pg)
		for _, it := range pg.Items {
			if seen[it.Vehicle.ID] || it.DistanceM < last {
				t.Fatalf("page %d: %+v repeats a car or comes nearer (after %d m)", pages, pg.Items, last)
			}
			seen[it.Vehicle.ID], last = true, it.DistanceM
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *pg.NextCursor
	}
	if len(seen) != 5 {
		t.Errorf("paging saw %d cars, want 5 (near, three at one spot, far)", len(seen))
	}
	h.cl.As(s.AccessToken).Get("/v1/availability?zone_id=" + tw.zoneID + "&start=" + start.Format(time.RFC3339) + "&end=" + start.Add(2*time.Hour).Format(time.RFC3339)).Expect(200).JSON(&pg)
	if len(pg.Items) != 5 {
		t.Errorf("zone search: %d offers", len(pg.Items))
	}
	// A plan change shows in the very next search (the search's snapshot of
	// the plans is dropped when a plan changes).
	h.cl.As(s.AccessToken).Get(q).Expect(200).JSON(&pg)
	before := pg.Items[0].QuoteTotal
	dearer := evRules()
	dearer["per_hour"] = 4500
	h.cl.As(tw.op.AccessToken).Patch("/v1/pricing-plans/"+tw.planID, map[string]any{"rules": dearer}).Expect(200)
	h.cl.As(s.AccessToken).Get(q).Expect(200).JSON(&pg)
	if pg.Items[0].QuoteTotal <= before {
		t.Errorf("after the plan got dearer the search quotes %d, before %d", pg.Items[0].QuoteTotal, before)
	}
	// Bad searches name the field.
	for _, bad := range []struct{ query, field string }{
		{"/v1/availability?lat=43.8&lng=125.2&start=" + start.Format(time.RFC3339) + "&end=" + start.Add(10*time.Minute).Format(time.RFC3339), "end"},
		{"/v1/availability?start=" + start.Format(time.RFC3339) + "&end=" + start.Add(time.Hour).Format(time.RFC3339), "lat"},
		{"/v1/availability?lat=43.8&lng=125.2&start=yesterday&end=" + start.Format(time.RFC3339), "start"},
		{q + "&radius_m=100000", "radius_m"},
	} {
		if p := h.cl.As(s.AccessToken).Unchecked().Get(bad.query).Problem(400, "validation_failed"); !p.HasField(bad.field) {
			t.Errorf("%s: errors %+v do not name %s", bad.query, p.Errors, bad.field)
		}
	}
}

func TestConditionReportsAndOdometerGaps(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	carID, token := tw.addVehicle(t, h, 1)
	telemetry(h, token, carID, reading(time.Now().Add(-2*time.Minute), 80, 1000)).Expect(200)
	s := tw.driver(t, h, "reporter@example.cn", true)
	start := soon()
	r := h.unlocked(t, s, carID, start, start.Add(time.Hour))
	rep := h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/condition-reports", map[string]any{
		"phase": "start", "category": "damage", "notes": "左后门划痕 / scratch on the rear left door", "photo_refs": []string{"photos/1.jpg"}}).Expect(201).Map()
	h.cl.As(s.AccessToken).Unchecked().Post("/v1/reservations/"+r.ID+"/condition-reports", map[string]any{"phase": "middle", "category": "damage"}).Problem(400, "validation_failed")
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/end", nil).Expect(200)

	op := h.cl.As(tw.op.AccessToken)
	items := op.Get("/v1/condition-reports").Expect(200).Map()["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("%d open reports", len(items))
	}
	op.Post("/v1/condition-reports/"+rep["id"].(string)+"/resolve", map[string]string{"resolution": "repaired"}).Expect(200)
	op.Post("/v1/condition-reports/"+rep["id"].(string)+"/resolve", map[string]string{"resolution": "again"}).Problem(409, "invalid_state")

	// The car moves 30 km with no trip; the next unlock raises an alert.
	telemetry(h, token, carID, reading(time.Now(), 70, 1030)).Expect(200)
	start = soon()
	h.unlocked(t, s, carID, start.Add(time.Minute), start.Add(time.Hour))
	alerts := op.Get("/v1/fleet/alerts").Expect(200).Map()["items"].([]any)
	if len(alerts) != 1 || alerts[0].(map[string]any)["kind"] != "odometer_gap" {
		t.Errorf("alerts %v", alerts)
	}
}
