package ledger_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/ledger/payfeed"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// benchSize is the size of the benchmark: 100,000, or LEDGER_BENCH_SIZE
// for a quicker look.
var benchSize = func() int {
	if n, err := strconv.Atoi(os.Getenv("LEDGER_BENCH_SIZE")); err == nil && n >= 1000 {
		return n
	}
	return 100_000
}()

// seedPayments writes n captured payments with their capture entries in
// bulk SQL: payment i captured 1000 + i%50000 fen, charge ch_bench_i,
// PaymentIntent pi_bench_i, booked at at minus i seconds.
func seedPayments(b *testing.B, d *sqlx.DB, n int, at time.Time) {
	b.Helper()
	user := uuid.New()
	err := db.InTx(ctx, d, func(tx *sqlx.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO users (id, email, password_hash, display_name, phone) VALUES ($1, 'bench@example.cn', 'x', 'bench', '+8613800000000')`,
				[]any{user}},
			{`INSERT INTO payments (id, purpose_kind, purpose_id, user_id, kind, status, currency, amount_authorized,
				amount_captured, off_session, stripe_payment_intent_id, stripe_charge_id, created_at, updated_at)
			SELECT gen_random_uuid(), 'reservation', gen_random_uuid(), $3, 'authorization', 'succeeded', 'CNY',
				1000 + i % 50000, 1000 + i % 50000, true, 'pi_bench_' || i, 'ch_bench_' || i,
				$2::timestamptz - make_interval(secs => i), $2::timestamptz - make_interval(secs => i)
			FROM generate_series(0, $1 - 1) AS i`, []any{n, at, user}},
			{`INSERT INTO journal_entries (id, event, memo, source, source_id, source_ref, payment_id, purpose_kind, purpose_id,
				reservation_id, amount, currency, description, occurred_at)
			SELECT gen_random_uuid(), 'capture', false, 'payment', p.id::text, 'captured:' || p.amount_captured, p.id,
				p.purpose_kind, p.purpose_id, p.purpose_id, p.amount_captured, 'CNY', 'seeded capture', p.created_at
			FROM payments p`, nil},
			{`INSERT INTO journal_lines (entry_id, line_no, account, debit, credit, currency)
			SELECT e.id, l.no, l.account, CASE WHEN l.dr THEN e.amount ELSE 0 END, CASE WHEN l.dr THEN 0 ELSE e.amount END, 'CNY'
			FROM journal_entries e
			CROSS JOIN (VALUES (1, 'resident_receivable', true), (2, 'rental_revenue', false),
				(3, 'stripe_clearing', true), (4, 'resident_receivable', false)) AS l(no, account, dr)`, nil},
		} {
			if _, err := tx.Exec(q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	// A live database has statistics; a freshly seeded one needs them made.
	if _, err := d.Exec(`ANALYZE payments, journal_entries, journal_lines`); err != nil {
		b.Fatal(err)
	}
}

// benchTxns are Stripe's side: a charge for each seeded payment but every
// 1000th (those are missing_in_stripe), every 500th for a fen more
// (amount_mismatch), and charges not ours to make up benchSize.
func benchTxns(n int, at time.Time) []txn {
	out := make([]txn, 0, n)
	for i := 0; i < n; i++ {
		if i%1000 == 999 {
			continue
		}
		amount := int64(1000 + i%50000)
		if i%500 == 7 {
			amount++
		}
		out = append(out, newTxn(fmt.Sprintf("txn_bench_%d", i), "charge", "charge", amount, amount*34/1000+30, "cny",
			at.Add(-time.Duration(i)*time.Second), source{fmt.Sprintf("ch_bench_%d", i), "charge", "", fmt.Sprintf("pi_bench_%d", i)}))
	}
	for i := 0; len(out) < n; i++ {
		out = append(out, newTxn(fmt.Sprintf("txn_stranger_%d", i), "charge", "charge", 777, 56, "cny",
			at.Add(-time.Duration(i)*time.Second-time.Millisecond), source{fmt.Sprintf("ch_stranger_%d", i), "charge", "", ""}))
	}
	return out
}

// peakMemory samples the Go heap and the memory taken from the OS until
// stop is called, and returns their peaks.
func peakMemory() (stop func() (heap, sys uint64)) {
	var mu sync.Mutex
	var heap, sys uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		heap, sys = max(heap, m.HeapAlloc), max(sys, m.Sys)
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-finished
		sample()
		mu.Lock()
		defer mu.Unlock()
		return heap, sys
	}
}

// BenchmarkReconcile100k reconciles a day of 100,000 Stripe balance
// transactions, read from a Stripe-shaped server through stripe-go's
// auto-pagination (1,000 pages of 100), against 100,000 payments and their
// journal entries, and reports the wall time of a run and the peak memory of
// this process (which also holds the fake server's 100,000 transactions;
// heap-growth-MB is the peak over the heap before the run). The first run
// books 100,000 fee entries; later ones find them booked.
//
//	go test -run='^$' -bench=BenchmarkReconcile100k -benchtime=1x ./internal/ledger/
func BenchmarkReconcile100k(b *testing.B) {
	d := testenv.DB(b)
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	start := time.Now()
	seedPayments(b, d, benchSize, at)
	fake := newFakeStripe(b, 0)
	fake.add(benchTxns(benchSize, at)...)
	log, showSteps := benchLog(b)
	defer showSteps()
	led := ledger.NewService(d, ledger.Options{Log: log, Stripe: payfeed.Stripe(payment.NewStripe("sk_test_bench", fake.URL, "test"))})
	loc := led.Location()
	period, err := led.ParsePeriod(at.In(loc).AddDate(0, 0, -2).Format(time.DateOnly), at.In(loc).Format(time.DateOnly))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d payments and %d transactions in %s", benchSize, benchSize, time.Since(start).Round(time.Millisecond))

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	b.ResetTimer()
	stop := peakMemory()
	var run ledger.Run
	for range b.N {
		if run, err = led.Reconcile(ctx, ledger.ReconcileRequest{Period: period, Source: ledger.SourceStripeAPI}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	heap, sys := stop()
	perRun := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(perRun.Seconds(), "s/run")
	b.ReportMetric(float64(heap)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(heap-min(heap, base.HeapAlloc))/1e6, "heap-growth-MB")
	b.ReportMetric(float64(sys)/1e6, "peak-sys-MB")
	b.ReportMetric(float64(benchSize)/perRun.Seconds(), "txns/s")
	b.Logf("run %s: %v, booked %v, %d pages", run.ID, run.Counts, run.Recorded, fake.requests.Load())
	k := int64(benchSize / 1000)
	want := map[string]int64{"matched": int64(benchSize) - 3*k, "amount_mismatch": 2 * k, "missing_in_stripe": k, "missing_in_ledger": k}
	for k, v := range want {
		if run.Counts[k] != v {
			b.Errorf("%s: %d items, want %d", k, run.Counts[k], v)
		}
	}
}

// benchLog collects the reconciliation's step times, written out at the end
// of the benchmark (benchmark logs are cut after a few lines).
func benchLog(b *testing.B) (*slog.Logger, func()) {
	var mu sync.Mutex
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == "run_id" {
				return slog.Attr{}
			}
			return a
		}}))
	return log, func() {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprint(os.Stderr, buf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
