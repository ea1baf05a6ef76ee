package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Task is periodic work, such as pruning old rows.
type Task struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// RunnerOptions tune a runner; zero fields take the defaults.
type RunnerOptions struct {
	Poll    time.Duration // pause between polls when the outbox is idle (1s)
	MaxIdle time.Duration // longest pause after repeated poll errors (1m)
	Log     *slog.Logger
}

// Runner polls a queue and runs periodic tasks between Start and Stop.
type Runner struct {
	q     *Queue
	tasks []Task
	opts  RunnerOptions

	mu      sync.Mutex
	started bool
	stop    chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewRunner returns a runner of q's jobs and of tasks.
func NewRunner(q *Queue, opts RunnerOptions, tasks ...Task) *Runner {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Runner{q: q, tasks: tasks, opts: opts}
}

// Start begins polling and the periodic tasks in the background. Jobs run
// with a context detached from ctx's cancellation, so Stop, not ctx, ends
// the runner cleanly.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("worker: already started")
	}
	r.started = true
	r.stop = make(chan struct{})
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.wg.Add(1)
	go r.poll(base)
	for _, t := range r.tasks {
		r.wg.Add(1)
		go r.every(base, t)
	}
	r.opts.Log.Info("worker started", "poll", r.opts.Poll.String(), "tasks", len(r.tasks))
	return nil
}

// Stop asks the loops to finish their current job and waits for them until
// ctx ends; then it cancels what still runs and waits for it to return.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started {
		r.mu.Unlock()
		return nil
	}
	r.started = false
	close(r.stop)
	r.mu.Unlock()

	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		r.cancel()
		r.opts.Log.Info("worker stopped")
		return nil
	case <-ctx.Done():
		r.cancel()
		<-done
		return ctx.Err()
	}
}

// poll runs due jobs while there are any, then sleeps. Consecutive errors
// (the database is down) lengthen the sleep exponentially up to MaxIdle.
func (r *Runner) poll(ctx context.Context) {
	defer r.wg.Done()
	failures := 0
	for {
		n, err := r.q.RunDue(ctx)
		wait := r.opts.Poll
		switch {
		case err != nil:
			failures++
			wait = Backoff(failures, r.opts.Poll, r.opts.MaxIdle)
			r.opts.Log.Warn("worker: polling the outbox failed", "err", err, "retry_in", wait.String())
		case n >= r.q.opts.Batch:
			failures = 0
			wait = 0 // a full batch: there may be more
		default:
			failures = 0
		}
		if !r.sleep(wait, r.q.wake) {
			return
		}
	}
}

func (r *Runner) every(ctx context.Context, t Task) {
	defer r.wg.Done()
	for r.sleep(t.Every, nil) {
		if err := t.Run(ctx); err != nil {
			r.opts.Log.Warn("worker: task failed", "task", t.Name, "err", err)
		}
	}
}

// sleep waits d, or until wake, and reports whether the runner is still
// running.
func (r *Runner) sleep(d time.Duration, wake <-chan struct{}) bool {
	select {
	case <-r.stop:
		return false
	default:
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.stop:
		return false
	case <-t.C:
		return true
	case <-wake:
		return true
	}
}
