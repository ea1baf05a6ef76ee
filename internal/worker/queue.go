// Package worker runs background work: the outbox of jobs that must follow a
// database change (such as a Stripe call), and periodic tasks.
//
// A capability writes a job into the outbox with Queue.Enqueue inside the
// same transaction as its own change, so the job exists exactly when the
// change does. Workers claim due jobs with FOR UPDATE SKIP LOCKED and a lease,
// so any number of processes can run them without running one twice at a
// time; a process that dies mid-job leaves a lease that expires, and the job
// is run again. Failures are retried with exponential backoff. Handlers must
// therefore be idempotent: a job can run more than once (the payment handlers
// reuse the job's key as their Stripe idempotency key).
//
// Capabilities do not import this package: they declare the small interface
// they need (Enqueue, RunNow, Handle) and main wires a *Queue into them.
package worker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Handler performs one job from its payload. A nil result marks the job done;
// an error retries it later with backoff.
type Handler = func(ctx context.Context, payload json.RawMessage) error

// Options tune a queue; zero fields take the defaults.
type Options struct {
	Lease       time.Duration // how long a claim lasts unless renewed; a dead worker's job is due again after it (30s)
	Timeout     time.Duration // longest a handler may run (2m)
	BaseBackoff time.Duration // delay before the first retry, doubled on each (2s)
	MaxBackoff  time.Duration // longest delay between retries (15m)
	MaxAttempts int           // attempts before a job is marked dead (25)
	Batch       int           // jobs claimed per poll (10)
	Log         *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 2 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 15 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 25
	}
	if o.Batch <= 0 {
		o.Batch = 10
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Queue is the outbox: jobs written in transactions and run by handlers.
type Queue struct {
	db   *sqlx.DB
	opts Options

	mu       sync.RWMutex
	handlers map[string]Handler
	wake     chan struct{}
}

// NewQueue returns the outbox on d.
func NewQueue(d *sqlx.DB, opts Options) *Queue {
	return &Queue{db: d, opts: opts.withDefaults(), handlers: map[string]Handler{}, wake: make(chan struct{}, 1)}
}

// Wake asks the runner of this queue in this process, if one runs, to poll
// now rather than at its next interval: for jobs a caller has just committed
// and wants run soon, but not inside its own request. Without a runner here
// the jobs wait for another process's poll.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Handle registers the handler of jobs of kind; registering a kind twice
// replaces the handler.
func (q *Queue) Handle(kind string, h func(ctx context.Context, payload json.RawMessage) error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handlers[kind] = h
}

func (q *Queue) handler(kind string) (Handler, bool) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	h, ok := q.handlers[kind]
	return h, ok
}

// Enqueue writes a job in tx. key names the work: enqueueing a key that
// exists already is a no-op that returns the existing job's id.
func (q *Queue) Enqueue(ctx context.Context, tx *sqlx.Tx, kind, key string, payload any) (int64, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("encode job %s: %w", key, err)
	}
	// ON CONFLICT DO NOTHING keeps the caller's transaction alive when the
	// job exists already.
	const insert = `
		INSERT INTO outbox (kind, key, payload) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING
		RETURNING id`
	var id int64
	err = tx.GetContext(ctx, &id, insert, kind, key, string(raw)) // text: jsonb is not sent in binary
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.GetContext(ctx, &id, `SELECT id FROM outbox WHERE key = $1`, key)
	}
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", key, err)
	}
	return id, nil
}

// job is a claimed outbox row.
type job struct {
	ID       int64           `db:"id"`
	Kind     string          `db:"kind"`
	Key      string          `db:"key"`
	Payload  json.RawMessage `db:"payload"`
	Attempts int             `db:"attempts"`
	Lease    uuid.UUID       `db:"lease"`
}

// claim leases up to limit due jobs (only those named by keys, when given).
func (q *Queue) claim(ctx context.Context, limit int, keys []string) ([]job, error) {
	// Due jobs not leased by a live worker, oldest first; SKIP LOCKED lets
	// several workers claim disjoint jobs at the same moment. Each claim
	// takes a fresh lease token so only its holder can finish the job.
	const q1 = `
		UPDATE outbox o
		SET locked_until = now() + make_interval(secs => $2), lease = gen_random_uuid(), attempts = o.attempts + 1
		WHERE o.id IN (
			SELECT id FROM outbox
			WHERE status = 'pending' AND run_at <= now()
			  AND (locked_until IS NULL OR locked_until < now())
			  AND ($3::text[] IS NULL OR key = ANY ($3))
			ORDER BY run_at, id
			LIMIT $1
			FOR UPDATE SKIP LOCKED)
		RETURNING o.id, o.kind, o.key, o.payload, o.attempts, o.lease`
	var filter any
	if keys != nil {
		filter = pq.StringArray(keys)
	}
	var jobs []job
	if err := q.db.SelectContext(ctx, &jobs, q1, limit, q.opts.Lease.Seconds(), filter); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// RunDue claims a batch of due jobs and runs them side by side (each under
// its own lease), so that one slow Stripe call does not hold up the rest; it
// returns how many it claimed, so a caller can keep going while batches are
// full.
func (q *Queue) RunDue(ctx context.Context) (int, error) {
	jobs, err := q.claim(ctx, q.opts.Batch, nil)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = q.run(ctx, j)
		}()
	}
	wg.Wait()
	return len(jobs), nil
}

// RunNow runs at once the due jobs named by keys that no worker holds, for a
// caller that has just committed them and wants the result before answering.
// It returns the first job error; failed jobs are left to the worker.
func (q *Queue) RunNow(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	jobs, err := q.claim(ctx, len(keys), keys)
	if err != nil {
		return err
	}
	var first error
	for _, j := range jobs {
		if err := q.run(ctx, j); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// run performs one claimed job and records the outcome.
func (q *Queue) run(ctx context.Context, j job) error {
	h, ok := q.handler(j.Kind)
	var err error
	if !ok {
		err = fmt.Errorf("no handler for job kind %q", j.Kind)
	} else {
		hctx, cancel := context.WithTimeout(ctx, q.opts.Timeout)
		stop := q.heartbeat(hctx, j)
		err = safely(hctx, h, j.Payload)
		stop()
		cancel()
	}
	// Recording the outcome must not be lost to a cancelled caller.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err == nil {
		if cerr := q.complete(rctx, j); cerr != nil {
			q.opts.Log.Error("outbox: job done but not recorded; it will run again", "job", j.Key, "err", cerr)
		}
		return nil
	}
	dead := j.Attempts >= q.opts.MaxAttempts
	delay := Backoff(j.Attempts, q.opts.BaseBackoff, q.opts.MaxBackoff)
	if ferr := q.fail(rctx, j, err, delay, dead); ferr != nil {
		q.opts.Log.Error("outbox: recording a failed job", "job", j.Key, "err", ferr)
	}
	level := slog.LevelWarn
	if dead {
		level = slog.LevelError
	}
	q.opts.Log.Log(rctx, level, "outbox: job failed", "job", j.Key, "kind", j.Kind,
		"attempt", j.Attempts, "dead", dead, "retry_in", delay.String(), "err", err.Error())
	return fmt.Errorf("job %s: %w", j.Key, err)
}

// heartbeat renews j's lease while its handler runs, so a long Stripe call
// keeps the job while a crashed process loses it within one lease. The
// returned function stops it.
func (q *Queue) heartbeat(ctx context.Context, j job) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(q.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				const renew = `UPDATE outbox SET locked_until = now() + make_interval(secs => $3) WHERE id = $1 AND lease = $2`
				if _, err := q.db.ExecContext(ctx, renew, j.ID, j.Lease, q.opts.Lease.Seconds()); err != nil {
					q.opts.Log.Warn("outbox: renewing a lease failed", "job", j.Key, "err", err)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// safely calls h, turning a panic into an error so one bad job cannot stop
// the worker.
func safely(ctx context.Context, h Handler, payload json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return h(ctx, payload)
}

func (q *Queue) complete(ctx context.Context, j job) error {
	// Only the lease holder records the outcome; a worker whose lease ran
	// out has been overtaken and its late answer is dropped.
	const done = `
		UPDATE outbox SET status = 'done', done_at = now(), locked_until = NULL, last_error = NULL
		WHERE id = $1 AND lease = $2`
	_, err := q.db.ExecContext(ctx, done, j.ID, j.Lease)
	return err
}

func (q *Queue) fail(ctx context.Context, j job, cause error, delay time.Duration, dead bool) error {
	// Schedule the retry (or give up) and free the lease.
	const retry = `
		UPDATE outbox
		SET run_at = now() + make_interval(secs => $3), locked_until = NULL, last_error = $4,
		    status = CASE WHEN $5 THEN 'dead' ELSE 'pending' END
		WHERE id = $1 AND lease = $2`
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	_, err := q.db.ExecContext(ctx, retry, j.ID, j.Lease, delay.Seconds(), msg, dead)
	return err
}

// Backoff returns the delay before retry number attempt (1 for the first):
// base doubled per attempt, capped at max, with ±20% jitter so retries of
// many jobs spread out.
func Backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// Prune deletes jobs done more than olderThan ago and returns how many.
func (q *Queue) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	// Finished jobs are kept a while for inspection, then removed; dead jobs
	// stay until someone looks at them.
	const prune = `DELETE FROM outbox WHERE status = 'done' AND done_at < now() - make_interval(secs => $1)`
	res, err := q.db.ExecContext(ctx, prune, olderThan.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune outbox: %w", err)
	}
	return res.RowsAffected()
}
