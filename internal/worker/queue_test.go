package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/testenv"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fastOptions() worker.Options {
	return worker.Options{BaseBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Lease: 3 * time.Second, Log: quiet}
}

func enqueue(t *testing.T, d *sqlx.DB, q *worker.Queue, kind, key string) int64 {
	t.Helper()
	var id int64
	err := db.InTx(context.Background(), d, func(tx *sqlx.Tx) error {
		var err error
		id, err = q.Enqueue(context.Background(), tx, kind, key, map[string]string{"key": key})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type outboxRow struct {
	Status    string  `db:"status"`
	Attempts  int     `db:"attempts"`
	LastError *string `db:"last_error"`
}

func row(t *testing.T, d *sqlx.DB, key string) outboxRow {
	t.Helper()
	var r outboxRow
	if err := d.Get(&r, `SELECT status, attempts, last_error FROM outbox WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
	return r
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEnqueueIsOncePerKey(t *testing.T) {
	d := testenv.DB(t)
	q := worker.NewQueue(d, fastOptions())
	a := enqueue(t, d, q, "k", "same-key")
	b := enqueue(t, d, q, "k", "same-key")
	if a != b {
		t.Errorf("second enqueue made job %d, want the first %d", b, a)
	}
	var n int
	_ = d.Get(&n, `SELECT count(*) FROM outbox`)
	if n != 1 {
		t.Errorf("%d outbox rows, want 1", n)
	}
}

// TestEnqueueRollsBackWithTheTransaction: a job exists exactly when the
// change it follows does.
func TestEnqueueRollsBackWithTheTransaction(t *testing.T) {
	d := testenv.DB(t)
	q := worker.NewQueue(d, fastOptions())
	err := db.InTx(context.Background(), d, func(tx *sqlx.Tx) error {
		if _, err := q.Enqueue(context.Background(), tx, "k", "rolled-back", nil); err != nil {
			return err
		}
		return errors.New("the change failed")
	})
	if err == nil {
		t.Fatal("want the transaction's error")
	}
	var n int
	_ = d.Get(&n, `SELECT count(*) FROM outbox`)
	if n != 0 {
		t.Errorf("%d jobs after a rollback, want 0", n)
	}
}

// TestSeveralProcessesRunEachJobOnce runs three queues on three pools (as
// three processes would) over the same outbox.
func TestSeveralProcessesRunEachJobOnce(t *testing.T) {
	url := testenv.DatabaseURL(t)
	var mu sync.Mutex
	runs := map[string]int{}
	handler := func(ctx context.Context, payload json.RawMessage) error {
		var p map[string]string
		_ = json.Unmarshal(payload, &p)
		time.Sleep(time.Millisecond)
		mu.Lock()
		runs[p["key"]]++
		mu.Unlock()
		return nil
	}
	var runners []*worker.Runner
	var first *sqlx.DB
	var firstQ *worker.Queue
	for i := 0; i < 3; i++ {
		d, err := db.Connect(context.Background(), url, db.PoolOptions{MaxOpen: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		q := worker.NewQueue(d, worker.Options{Batch: 5, Log: quiet})
		q.Handle("count", handler)
		if first == nil {
			first, firstQ = d, q
		}
		runners = append(runners, worker.NewRunner(q, worker.RunnerOptions{Poll: 10 * time.Millisecond, Log: quiet}))
	}
	const jobs = 60
	for i := 0; i < jobs; i++ {
		enqueue(t, first, firstQ, "count", fmt.Sprintf("job-%02d", i))
	}
	for _, r := range runners {
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "all jobs done", func() bool {
		var n int
		_ = first.Get(&n, `SELECT count(*) FROM outbox WHERE status = 'done'`)
		return n == jobs
	})
	for _, r := range runners {
		if err := r.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != jobs {
		t.Errorf("%d distinct jobs ran, want %d", len(runs), jobs)
	}
	for k, n := range runs {
		if n != 1 {
			t.Errorf("job %s ran %d times, want once", k, n)
		}
	}
}

func TestFailedJobIsRetriedWithBackoffThenDone(t *testing.T) {
	d := testenv.DB(t)
	q := worker.NewQueue(d, worker.Options{BaseBackoff: 300 * time.Millisecond, MaxBackoff: time.Second, Log: quiet})
	calls := 0
	q.Handle("flaky", func(ctx context.Context, _ json.RawMessage) error {
		calls++
		if calls < 3 {
			return fmt.Errorf("stripe is down (call %d)", calls)
		}
		return nil
	})
	enqueue(t, d, q, "flaky", "flaky-1")
	ctx := context.Background()
	if n, err := q.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("first run: %d, %v", n, err)
	}
	r := row(t, d, "flaky-1")
	if r.Status != "pending" || r.Attempts != 1 || r.LastError == nil {
		t.Fatalf("after a failure: %+v, want pending with the error kept", r)
	}
	// Backing off: not due at once.
	if n, _ := q.RunDue(ctx); n != 0 {
		t.Fatalf("a failed job ran again at once (%d), want a backoff", n)
	}
	eventually(t, 5*time.Second, "the job is done", func() bool {
		_, _ = q.RunDue(ctx)
		return row(t, d, "flaky-1").Status == "done"
	})
	if r := row(t, d, "flaky-1"); r.Attempts != 3 || calls != 3 {
		t.Errorf("attempts %d, calls %d; want 3 and 3", r.Attempts, calls)
	}
}

func TestJobDiesAfterMaxAttempts(t *testing.T) {
	d := testenv.DB(t)
	opts := fastOptions()
	opts.MaxAttempts = 2
	q := worker.NewQueue(d, opts)
	q.Handle("doomed", func(ctx context.Context, _ json.RawMessage) error { panic("a bug") })
	enqueue(t, d, q, "doomed", "doomed-1")
	eventually(t, 5*time.Second, "the job is dead", func() bool {
		_, _ = q.RunDue(context.Background())
		return row(t, d, "doomed-1").Status == "dead"
	})
	if r := row(t, d, "doomed-1"); r.Attempts != 2 || r.LastError == nil || *r.LastError != "panic: a bug" {
		t.Errorf("dead job %+v", r)
	}
}

// TestExpiredLeaseIsTakenOver: a process claimed the job and died; another
// takes it once the lease has expired, not before.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	d := testenv.DB(t)
	q := worker.NewQueue(d, fastOptions())
	ran := 0
	q.Handle("k", func(context.Context, json.RawMessage) error { ran++; return nil })
	enqueue(t, d, q, "k", "orphan")
	// The dead process's claim.
	if _, err := d.Exec(`UPDATE outbox SET locked_until = now() + interval '1 second', lease = gen_random_uuid(), attempts = 1 WHERE key = 'orphan'`); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.RunDue(context.Background()); n != 0 {
		t.Fatalf("took a leased job (%d)", n)
	}
	eventually(t, 5*time.Second, "the orphan is done", func() bool {
		_, _ = q.RunDue(context.Background())
		return row(t, d, "orphan").Status == "done"
	})
	if ran != 1 {
		t.Errorf("ran %d times, want 1", ran)
	}
}

func TestRunNowRunsOnlyTheNamedJobs(t *testing.T) {
	d := testenv.DB(t)
	q := worker.NewQueue(d, fastOptions())
	var ran []string
	q.Handle("k", func(_ context.Context, p json.RawMessage) error {
		var m map[string]string
		_ = json.Unmarshal(p, &m)
		ran = append(ran, m["key"])
		return nil
	})
	enqueue(t, d, q, "k", "a")
	enqueue(t, d, q, "k", "b")
	if err := q.RunNow(context.Background(), "b", "not-there"); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || ran[0] != "b" {
		t.Errorf("ran %v, want [b]", ran)
	}
	if row(t, d, "a").Status != "pending" {
		t.Error("job a ran")
	}
}

func TestBackoffDoublesAndIsCapped(t *testing.T) {
	base, max := time.Second, 10*time.Second
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {40, 10 * time.Second}} {
		got := worker.Backoff(tc.attempt, base, max)
		if lo, hi := tc.want*8/10, tc.want*12/10; got < lo || got > hi {
			t.Errorf("Backoff(%d) = %s, want %s ±20%%", tc.attempt, got, tc.want)
		}
	}
}

func TestRunnerStopsAndRunsTasks(t *testing.T) {
	d := testenv.DB(t)
	q := worker.NewQueue(d, fastOptions())
	done := make(chan struct{}, 1)
	q.Handle("k", func(context.Context, json.RawMessage) error { done <- struct{}{}; return nil })
	var mu sync.Mutex
	ticks := 0
	r := worker.NewRunner(q, worker.RunnerOptions{Poll: 10 * time.Millisecond, Log: quiet},
		worker.Task{Name: "tick", Every: 10 * time.Millisecond, Run: func(context.Context) error {
			mu.Lock()
			ticks++
			mu.Unlock()
			return nil
		}})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	enqueue(t, d, q, "k", "one")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the runner did not run the job")
	}
	eventually(t, 5*time.Second, "the task ran", func() bool { mu.Lock(); defer mu.Unlock(); return ticks > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	n, _ := q.Prune(context.Background(), 0)
	if n != 1 {
		t.Errorf("pruned %d done jobs, want 1", n)
	}
}

func TestWakeRunsAJobBeforeTheNextPoll(t *testing.T) {
	d := testenv.DB(t)
	q := worker.NewQueue(d, fastOptions())
	done := make(chan struct{}, 1)
	q.Handle("k", func(context.Context, json.RawMessage) error { done <- struct{}{}; return nil })
	r := worker.NewRunner(q, worker.RunnerOptions{Poll: time.Hour, Log: quiet})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	time.Sleep(50 * time.Millisecond) // the first poll has found nothing; the next is an hour away
	enqueue(t, d, q, "k", "woken")
	q.Wake()
	q.Wake() // a second wake-up while one is pending is dropped, not blocked on
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the woken runner did not run the job")
	}
}
