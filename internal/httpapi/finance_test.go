package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/config"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/ledger/payfeed"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// newLedger builds the ledger as main does: booking every payment move in
// its transaction, and reading Stripe's balance from stripe-mock.
func newLedger(t *testing.T, d *sqlx.DB, cfg config.Config, pay *payment.Service, now func() time.Time) *ledger.Service {
	t.Helper()
	st := payment.NewStripe(cfg.StripeSecretKey, testenv.StripeMockURL(t), string(cfg.StripeMode))
	led := ledger.NewService(d, ledger.Options{Location: cfg.Location, Currency: cfg.Currency, Now: now, Log: testenv.Logger(t),
		Stripe: payfeed.Stripe(st)})
	payfeed.Book(led, pay)
	return led
}

type journalOut struct {
	Items []struct {
		Event  string
		Memo   bool
		Amount int64
		Lines  []struct {
			Account       string
			Debit, Credit int64
		}
	}
	NextCursor *string `json:"next_cursor"`
}

// sums adds up the journal's lines per account, credits positive.
func (j journalOut) sums() map[string]int64 {
	out := map[string]int64{}
	for _, e := range j.Items {
		for _, l := range e.Lines {
			out[l.Account] += l.Credit - l.Debit
		}
	}
	return out
}

func today(h *harness) string { return time.Now().In(h.cfg.Location).Format(time.DateOnly) }

// TestFinanceBooksTripsAndReports drives real bookings over the API — a
// trip returned outside a zone (the hold captured, the rest charged), a
// late cancellation, a refund, a hold still open — and reads them back
// through the journal, balances and every report, in JSON and CSV.
func TestFinanceBooksTripsAndReports(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	s := tw.driver(t, h, "trip@example.cn", true)
	fin := h.account(t, "fin@example.cn", identity.RoleFinance).AccessToken
	ctx := context.Background()

	// A trip returned far from every zone: ¥50 out-of-zone fee over the hold.
	start := soon()
	trip := h.unlocked(t, s, car, start, start.Add(time.Hour))
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+trip.ID+"/end", map[string]float64{"lat": 43.70, "lng": 125.10}).Expect(200).JSON(&trip)
	if _, err := h.pay.queue.RunDue(ctx); err != nil { // the off-session charge of the rest
		t.Fatal(err)
	}
	var final struct{ Subtotal, VAT, Total int64 }
	if err := h.db.QueryRow(`SELECT final_subtotal, final_vat, final_total FROM reservations WHERE id = $1`, trip.ID).
		Scan(&final.Subtotal, &final.VAT, &final.Total); err != nil {
		t.Fatal(err)
	}
	var j journalOut
	h.cl.As(fin).Get("/v1/finance/journal?reservation_id=" + trip.ID).Expect(200).JSON(&j)
	events := []string{}
	for _, e := range j.Items {
		events = append(events, e.Event)
	}
	if strings.Join(events, ",") != "authorization,capture,charge" {
		t.Fatalf("trip entries %v: want the hold, its capture and the charge of the rest", events)
	}
	sum := j.sums()
	if sum["fee_revenue.out_of_zone"] != 5000 || sum["rental_revenue"] != final.Subtotal-5000 || sum["vat_payable"] != final.VAT ||
		-sum["stripe_clearing"] != final.Total || sum["resident_receivable"] != 0 {
		t.Errorf("trip booked %v; final price %+v", sum, final)
	}

	// A late cancellation: the fee captured from the hold.
	near := soon().Add(30 * time.Minute)
	var cancelled resOut
	h.book(t, s, car, near, near.Add(2*time.Hour)).Expect(201).JSON(&cancelled)
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+cancelled.ID+"/cancel", nil).Expect(200).JSON(&cancelled)
	h.cl.As(fin).Get("/v1/finance/journal?event=capture&reservation_id=" + cancelled.ID).Expect(200).JSON(&j)
	if len(j.Items) != 1 || j.sums()["fee_revenue.cancellation"] <= 0 || j.Items[0].Amount != cancelled.Final.Total {
		t.Errorf("cancellation booked %+v, fee %+v", j.Items, cancelled.Final)
	}
	// A refund of ¥10 of the trip's hold, by finance.
	h.cl.As(fin).With("Idempotency-Key", "refund-1").Post("/v1/payments/"+trip.Payment.ID+"/refunds",
		map[string]any{"amount": 1000, "reason": "service_issue"}).Expect(201)
	// A booking in two days: its hold stays open.
	far := time.Now().UTC().Truncate(time.Minute).Add(48 * time.Hour)
	var open resOut
	h.book(t, s, car, far, far.Add(time.Hour)).Expect(201).JSON(&open)

	var tb struct {
		Balanced bool
		Totals   []struct{ Debit, Credit int64 }
	}
	h.cl.As(fin).Get("/v1/finance/trial-balance").Expect(200).JSON(&tb)
	if !tb.Balanced || len(tb.Totals) != 1 || tb.Totals[0].Debit != tb.Totals[0].Credit {
		t.Errorf("trial balance %+v", tb)
	}
	var bal struct {
		Balances []struct {
			Currency string
			Balance  int64
		}
	}
	h.cl.As(fin).Get("/v1/finance/accounts/stripe_clearing/balance").Expect(200).JSON(&bal)
	if want := final.Total + cancelled.Final.Total - 1000; len(bal.Balances) != 1 || bal.Balances[0].Balance != want {
		t.Errorf("Stripe clearing %+v, want %d", bal.Balances, want)
	}

	period := "?from=" + today(h) + "&to=" + today(h)
	var revenue struct {
		From   string
		Rows   []map[string]any
		Totals []map[string]any
	}
	h.cl.As(fin).Get("/v1/finance/reports/revenue" + period).Expect(200).JSON(&revenue)
	if len(revenue.Rows) != 1 || revenue.Rows[0]["zone_code"] != "faw-hq" || revenue.Rows[0]["vehicle_model"] == nil ||
		revenue.Totals[0]["collected"] != float64(final.Total+cancelled.Final.Total-1000) || revenue.From != today(h) {
		t.Errorf("revenue %+v", revenue)
	}
	res := h.cl.As(fin).With("Accept", "text/csv").Get("/v1/finance/reports/revenue" + period).Expect(200)
	body := string(res.Body)
	if !strings.HasPrefix(body, "\ufeffday,zone_code,zone_name_zh,") || !strings.Contains(body, "一汽总部") ||
		!strings.Contains(body, ledger.FormatMinor(final.Total+cancelled.Final.Total-1000, "CNY")) ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "revenue_"+today(h)) {
		t.Errorf("revenue CSV:\n%s", body)
	}
	var fees struct{ Rows []map[string]any }
	h.cl.As(fin).Get("/v1/finance/reports/fees" + period).Expect(200).JSON(&fees)
	kinds := map[any]any{}
	for _, r := range fees.Rows {
		kinds[r["fee_kind"]] = r["amount"]
	}
	if kinds["out_of_zone"] != float64(5000) || kinds["cancellation"] == nil {
		t.Errorf("fees %v", fees.Rows)
	}
	var refunds struct{ Rows []map[string]any }
	h.cl.As(fin).Get("/v1/finance/reports/refunds" + period).Expect(200).JSON(&refunds)
	if len(refunds.Rows) != 1 || refunds.Rows[0]["amount"] != float64(1000) || refunds.Rows[0]["reason"] != "service_issue" {
		t.Errorf("refunds %v", refunds.Rows)
	}
	var charged int64
	if err := h.db.Get(&charged, `SELECT sum(final_vat) FROM reservations WHERE id IN ($1, $2)`, trip.ID, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	var vat struct{ Rows []map[string]any }
	h.cl.As(fin).Get("/v1/finance/reports/vat" + period).Expect(200).JSON(&vat)
	if len(vat.Rows) != 1 || vat.Rows[0]["output_vat"] != float64(charged) ||
		vat.Rows[0]["net_vat"] != float64(charged)-refunds.Rows[0]["vat"].(float64) {
		t.Errorf("VAT %v, want %d charged less the refund's", vat.Rows, charged)
	}
	var holds struct{ Rows []map[string]any }
	h.cl.As(fin).Get("/v1/finance/reports/outstanding-authorizations").Expect(200).JSON(&holds)
	if len(holds.Rows) != 1 || holds.Rows[0]["payment_id"] != open.Payment.ID || holds.Rows[0]["amount"] != float64(open.Quote.Total) {
		t.Errorf("open holds %v, want the booking in two days", holds.Rows)
	}
	h.cl.As(fin).Get("/v1/finance/reports/failed-captures").Expect(200)
	csv := h.cl.As(fin).With("Accept", "text/csv").Get("/v1/finance/reports/failed-captures").Expect(200)
	if string(csv.Body) != "\ufeffpayment_id,purpose_kind,purpose_id,user_id,currency,amount,failure_code,failure_message,failed_at,age_minutes\n" {
		t.Errorf("empty failed captures CSV %q", csv.Body)
	}

	// Bad input is a 400 naming the parameter; an unknown account a 404.
	if p := h.cl.As(fin).Unchecked().Get("/v1/finance/reports/revenue?from="+today(h)).Problem(400, "validation_failed"); !p.HasField("to") {
		t.Errorf("missing to: %+v", p)
	}
	if p := h.cl.As(fin).Get("/v1/finance/reports/fees?from=2026-12-02&to=2026-12-01").Problem(400, "validation_failed"); !p.HasField("to") {
		t.Errorf("to before from: %+v", p)
	}
	h.cl.As(fin).Unchecked().Get("/v1/finance/journal?event=bogus").Problem(400, "validation_failed")
	h.cl.As(fin).Unchecked().Get("/v1/finance/trial-balance?at=yesterday").Problem(400, "validation_failed")
	h.cl.As(fin).Get("/v1/finance/accounts/no_such_account/balance").Problem(404, "not_found")
	var accounts struct{ Items []struct{ Code string } }
	h.cl.As(fin).Get("/v1/finance/accounts").Expect(200).JSON(&accounts)
	if len(accounts.Items) != 14 || accounts.Items[0].Code != "resident_receivable" {
		t.Errorf("chart of accounts %+v", accounts.Items)
	}
}

// upload posts a reconciliation as multipart/form-data with file as its
// CSV part, through the contract-checking client unless unchecked.
func (h *harness) upload(t *testing.T, token string, fields map[string]string, file string, unchecked bool) *testenv.Response {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != "" {
		fw, err := w.CreateFormFile("file", "balance.csv")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(fw, file)
	}
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, "/v1/finance/reconciliations", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	cl := h.cl
	if unchecked {
		cl = cl.Unchecked()
	}
	return cl.Send(req)
}

// TestReconciliationOverHTTP uploads a balance CSV (multipart, checked
// against the contract), reads the run, pages and filters its items,
// exports them as CSV, runs against Stripe's API (stripe-mock), and refuses
// bad requests.
func TestReconciliationOverHTTP(t *testing.T) {
	h := newHarness(t, nil)
	li := h.account(t, "li@example.cn", identity.RoleResident)
	fin := h.account(t, "fin@example.cn", identity.RoleFinance).AccessToken
	h.savedCard(t, li)
	p, err := h.pay.svc.Get(context.Background(), h.capturedPayment(t, li, 5000).ID)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-time.Minute).Format("2006-01-02 15:04")
	file := "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description\n" +
		"txn_1,charge," + p.ChargeID + ",50.00,1.75,48.25,cny," + at + ",红旗 E-QM5\n" +
		"txn_2,charge,ch_not_ours,10.00,0.35,9.65,cny," + at + ",\n" +
		"txn_3,payout,po_1,-30.00,0.00,-30.00,cny," + at + ",STRIPE PAYOUT\n"
	period := map[string]string{"from": today(h), "to": today(h)}

	res := h.upload(t, fin, period, file, false).Expect(201)
	var run struct {
		ID       string
		Status   string
		Source   string
		Counts   map[string]int
		Recorded map[string]int
		Totals   []struct{ StripeAmount, LedgerAmount int64 }
	}
	res.JSON(&run)
	if run.Status != "completed" || run.Source != "csv" || run.Counts["matched"] != 2 || run.Counts["missing_in_ledger"] != 1 ||
		run.Recorded["stripe_fee"] != 2 || run.Recorded["payout"] != 1 || res.Header.Get("Location") != "/v1/finance/reconciliations/"+run.ID {
		t.Fatalf("run %+v (Location %s)", run, res.Header.Get("Location"))
	}
	h.cl.As(fin).Get("/v1/finance/reconciliations/" + run.ID).Expect(200).JSON(&run)
	if run.Counts["matched"] != 2 {
		t.Errorf("run read back %+v", run)
	}

	var items struct {
		Items []struct {
			Status, Note         string
			BalanceTransactionID *string `json:"balance_transaction_id"`
		}
		NextCursor *string `json:"next_cursor"`
	}
	h.cl.As(fin).Get("/v1/finance/reconciliations/" + run.ID + "/items?limit=2").Expect(200).JSON(&items)
	if len(items.Items) != 2 || items.NextCursor == nil {
		t.Fatalf("first page %+v", items)
	}
	h.cl.As(fin).Get("/v1/finance/reconciliations/" + run.ID + "/items?limit=2&cursor=" + *items.NextCursor).Expect(200).JSON(&items)
	if len(items.Items) != 1 || items.NextCursor != nil {
		t.Errorf("second page %+v", items)
	}
	h.cl.As(fin).Get("/v1/finance/reconciliations/" + run.ID + "/items?status=missing_in_ledger").Expect(200).JSON(&items)
	if len(items.Items) != 1 || *items.Items[0].BalanceTransactionID != "txn_2" || items.Items[0].Note == "" {
		t.Errorf("missing in the ledger: %+v", items.Items)
	}
	export := h.cl.As(fin).With("Accept", "text/csv").Get("/v1/finance/reconciliations/" + run.ID + "/items").Expect(200)
	if lines := strings.Split(strings.TrimSpace(string(export.Body)), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "\ufeffstatus,") ||
		!strings.Contains(string(export.Body), ",50.00,1.75,48.25,") {
		t.Errorf("export:\n%s", export.Body)
	}

	// Against Stripe's API (stripe-mock: one fixture transaction, not ours).
	var api struct {
		Source string
		Counts map[string]int
	}
	h.cl.As(fin).Post("/v1/finance/reconciliations", map[string]string{"from": today(h), "to": today(h), "source": "stripe_api"}).
		Expect(201).JSON(&api)
	if api.Source != "stripe_api" || api.Counts["missing_in_ledger"] < 1 || api.Counts["missing_in_stripe"] != 1 {
		t.Errorf("stripe_api run %+v: want stripe-mock's fixture unmatched and our capture not shown", api)
	}
	var runs struct{ Items []struct{ ID string } }
	h.cl.As(fin).Get("/v1/finance/reconciliations").Expect(200).JSON(&runs)
	if len(runs.Items) != 2 || runs.Items[1].ID != run.ID {
		t.Errorf("runs %+v", runs.Items)
	}

	// Refused: no file, a broken file, a CSV source sent as JSON, no period, no such run.
	if pr := h.upload(t, fin, period, "", true).Problem(400, "validation_failed"); !pr.HasField("file") {
		t.Errorf("no file: %+v", pr)
	}
	bad := "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\ntxn_1,charge,ch_1,fifty,0,0,cny," + at + "\n"
	if pr := h.upload(t, fin, period, bad, false).Problem(400, "validation_failed"); !pr.HasField("file") || !strings.Contains(pr.Detail+pr.Errors[0].Reason, "line 2") {
		t.Errorf("broken file: %+v", pr)
	}
	h.cl.As(fin).Unchecked().Post("/v1/finance/reconciliations", map[string]string{"from": today(h), "to": today(h), "source": "csv"}).
		Problem(400, "validation_failed")
	if pr := h.cl.As(fin).Unchecked().Post("/v1/finance/reconciliations", map[string]string{"source": "stripe_api"}).
		Problem(400, "validation_failed"); !pr.HasField("from") {
		t.Errorf("no period: %+v", pr)
	}
	h.cl.As(fin).Get("/v1/finance/reconciliations/"+uuid.NewString()).Problem(404, "not_found")
	h.cl.As(fin).Get("/v1/finance/reconciliations/"+uuid.NewString()+"/items").Problem(404, "not_found")
}
