package ledger_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/ledger"
)

// balanceCSV renders testdata/balance_history.csv.tmpl, Stripe's balance
// history export, for the world: the same transactions TestReconcile-
// FromTheStripeAPI serves, plus one row before the period. edit may change
// the rendered text.
func balanceCSV(t *testing.T, w *world, edit func(string) string) string {
	t.Helper()
	tpl := template.Must(template.ParseFiles("testdata/balance_history.csv.tmpl"))
	var b bytes.Buffer
	if err := tpl.Execute(&b, csvWorld{w}); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		return edit(b.String())
	}
	return b.String()
}

// csvWorld is what the CSV template reads.
type csvWorld struct{ *world }

// RefundA is the Stripe id of A's refund.
func (c csvWorld) RefundA() string { return c.refundA.StripeRefundID }

// At is the time of the i-th transaction, as the export writes it.
func (c csvWorld) At(i int) string {
	return c.at.Add(-time.Duration(i) * time.Second).UTC().Format("2006-01-02 15:04:05")
}

// TestReconcileFromABalanceCSV reconciles the world from an uploaded CSV:
// every classification as from the API, the row outside the period
// skipped, a re-run booking nothing, a changed fee found, and the items
// exported as CSV for Excel.
func TestReconcileFromABalanceCSV(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := e.world(t)
	file := balanceCSV(t, w, nil)
	reconcile := func(file string) ledger.Run {
		t.Helper()
		run, err := e.led.Reconcile(ctx, ledger.ReconcileRequest{Period: w.period, Source: ledger.SourceCSV,
			CSV: strings.NewReader(file), FileName: "balance.csv"})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	run := reconcile(file)
	by, ours := itemsByTxn(t, e, run.ID)
	if diff := cmp.Diff(wantStatus, statuses(by)); diff != "" {
		t.Errorf("classification (-want +got):\n%s", diff)
	}
	if len(ours) != 1 || *ours[0].PaymentID != w.E.ID {
		t.Errorf("missing in Stripe: %+v, want E", ours)
	}
	if run.SkippedRows != 1 || run.FileName != "balance.csv" || run.Status != "completed" {
		t.Errorf("run %+v: want the row before the period skipped", run)
	}
	if it := by["txn_a"]; *it.Amount != 9605 || *it.Fee != 309 || *it.Net != 9296 || *it.Currency != "CNY" {
		t.Errorf("txn_a read as %d / %d / %d %s", *it.Amount, *it.Fee, *it.Net, *it.Currency)
	}

	entries := entryCount(t, e)
	again := reconcile(file)
	if entryCount(t, e) != entries || again.Recorded["stripe_fee"] != 0 || again.Recorded["payout"] != 0 {
		t.Errorf("the same file again booked %v (%d entries, had %d)", again.Recorded, entryCount(t, e), entries)
	}
	if diff := cmp.Diff(run.Counts, again.Counts); diff != "" {
		t.Errorf("re-run counts differ (-first +again):\n%s", diff)
	}

	// Stripe's fee for A now reads 3.19: the booked 3.09 no longer agrees.
	changed := reconcile(balanceCSV(t, w, func(s string) string { return strings.Replace(s, "96.05,3.09,92.96", "96.05,3.19,92.86", 1) }))
	by, _ = itemsByTxn(t, e, changed.ID)
	if it := by["txn_a"]; it.Status != "fee_mismatch" || *it.LedgerFee != 309 || !strings.Contains(it.Note, "319") {
		t.Errorf("changed fee: %+v", it)
	}

	tbl, err := e.led.ItemsTable(ctx, run.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tbl.WriteCSV(&out, e.led.Location()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "\ufeffstatus,kind,balance_transaction_id,") {
		t.Fatalf("export starts %q: want a UTF-8 BOM and the header", out.String()[:40])
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out.String(), "\ufeff"))).ReadAll()
	if err != nil || len(recs) != 13 {
		t.Fatalf("export: %d records, %v", len(recs), err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, r := range recs[1:] {
		switch r[col["balance_transaction_id"]] {
		case "txn_a":
			if r[col["amount"]] != "96.05" || r[col["fee"]] != "3.09" || r[col["ledger_amount"]] != "96.05" || r[col["recorded"]] != "stripe_fee" {
				t.Errorf("txn_a exported as %v", r)
			}
		case "txn_unknown":
			if d := r[col["description"]]; d != `'=HYPERLINK("http://example.com")` {
				t.Errorf("a formula in the description exported as %q", d)
			}
		}
	}
}

// TestBalanceCSVRefusesBadFiles: a file that cannot be read whole is
// refused with the lines at fault, and nothing of it is used.
func TestBalanceCSVRefusesBadFiles(t *testing.T) {
	const head = "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\n"
	tests := []struct{ name, file, want string }{
		{"empty", "", "empty"},
		{"no amount column", "id,Type,Currency,Created (UTC)\ntxn_1,charge,cny,2026-11-05 10:30\n", "no amount column"},
		{"a bad amount", head + "txn_1,charge,ch_1,12.00,0.30,11.70,cny,2026-11-05 10:30\ntxn_2,charge,ch_2,twelve,0,0,cny,2026-11-05 10:31\n", "line 3: amount"},
		{"too many decimals", head + "txn_1,charge,ch_1,12.005,0,12.005,cny,2026-11-05 10:30\n", "line 2: amount"},
		{"a bad time", head + "txn_1,charge,ch_1,12.00,0,12.00,cny,yesterday\n", "line 2: created"},
		{"a bad currency", head + "txn_1,charge,ch_1,12.00,0,12.00,yuan,2026-11-05 10:30\n", "line 2: currency"},
		{"a transaction twice", head + "txn_1,charge,ch_1,1.00,0,1.00,cny,2026-11-05 10:30\ntxn_1,charge,ch_1,1.00,0,1.00,cny,2026-11-05 10:30\n", "line 3: transaction txn_1 is also on line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ledger.ParseBalanceCSV(strings.NewReader(tt.file))
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) == 0 || e.Fields[0].Field != "file" || !strings.Contains(e.Fields[0].Reason, tt.want) {
				t.Errorf("error %v (%+v), want an invalid file saying %q", err, e, tt.want)
			}
		})
	}
	// The itemized report's column names and Unix times read too.
	bts, err := ledger.ParseBalanceCSV(strings.NewReader("\ufeffbalance_transaction_id,reporting_category,source_id,gross,fee,net,currency,created_utc,payment_intent_id\n" +
		"txn_9,charge,ch_9,\"1,234.50\",35.80,1198.70,cny,1764900000,pi_9\n"))
	if err != nil || len(bts) != 1 || bts[0].Amount != 123450 || bts[0].ChargeID != "ch_9" || bts[0].PaymentIntentID != "pi_9" ||
		!bts[0].Created.Equal(time.Unix(1764900000, 0)) {
		t.Errorf("itemized columns: %+v, %v", bts, err)
	}
}
