package ledger_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// txn is a balance transaction as Stripe's API renders it, with its source
// both as an id and as the expanded object.
type txn struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Amount            int64           `json:"amount"`
	AvailableOn       int64           `json:"available_on"`
	Created           int64           `json:"created"`
	Currency          string          `json:"currency"`
	Description       string          `json:"description"`
	Fee               int64           `json:"fee"`
	FeeDetails        []any           `json:"fee_details"`
	Net               int64           `json:"net"`
	ReportingCategory string          `json:"reporting_category"`
	Source            json.RawMessage `json:"source"`
	Status            string          `json:"status"`
	Type              string          `json:"type"`

	sourceID string
	expanded json.RawMessage
}

// source is what a transaction's expanded source says: the object's id and
// type, and for charges, refunds and disputes their charge and
// PaymentIntent.
type source struct {
	ID, Object, Charge, Intent string
}

func newTxn(id, typ, category string, amount, fee int64, currency string, created time.Time, src source) txn {
	obj := map[string]any{"id": src.ID, "object": src.Object}
	if src.Charge != "" {
		obj["charge"] = src.Charge
	}
	if src.Intent != "" {
		obj["payment_intent"] = src.Intent
	}
	raw, _ := json.Marshal(obj)
	if src.ID == "" {
		raw = json.RawMessage("null")
	}
	return txn{ID: id, Object: "balance_transaction", Amount: amount, AvailableOn: created.Unix(), Created: created.Unix(),
		Currency: currency, Fee: fee, FeeDetails: []any{}, Net: amount - fee, ReportingCategory: category,
		Status: "available", Type: typ, sourceID: src.ID, expanded: raw}
}

// fakeStripe serves GET /v1/balance_transactions as Stripe does: newest
// first, filtered by created[gte] and created[lt], paged by limit and
// starting_after with has_more, sources expanded on expand[]=data.source.
// stripe-mock cannot do this: it keeps no transactions of a period.
type fakeStripe struct {
	URL      string
	pageSize int // the most a page holds whatever the limit; 0: the limit
	requests atomic.Int64

	mu   sync.Mutex
	txns []txn // newest first
	at   map[string]int
}

func newFakeStripe(t testing.TB, pageSize int) *fakeStripe {
	t.Helper()
	f := &fakeStripe{pageSize: pageSize, at: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// add stores transactions; call it before the run reads them.
func (f *fakeStripe) add(ts ...txn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txns = append(f.txns, ts...)
	slices.SortStableFunc(f.txns, func(a, b txn) int { return int(b.Created - a.Created) })
	for i, t := range f.txns {
		f.at[t.ID] = i
	}
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Method != http.MethodGet || r.URL.Path != "/v1/balance_transactions" {
		http.Error(w, `{"error":{"type":"invalid_request_error","message":"unknown path"}}`, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit < 1 || limit > 100 {
		limit = 10
	}
	if f.pageSize > 0 {
		limit = min(limit, f.pageSize)
	}
	gte, _ := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
	lt, err := strconv.ParseInt(q.Get("created[lt]"), 10, 64)
	if err != nil {
		lt = 1 << 62
	}
	expand := false
	for k, v := range q {
		expand = expand || (strings.HasPrefix(k, "expand") && slices.Contains(v, "data.source"))
	}
	f.mu.Lock()
	start := 0
	if after := q.Get("starting_after"); after != "" {
		i, ok := f.at[after]
		if !ok {
			f.mu.Unlock()
			http.Error(w, `{"error":{"type":"invalid_request_error","message":"no such object"}}`, http.StatusBadRequest)
			return
		}
		start = i + 1
	}
	page := make([]txn, 0, limit)
	more := false
	for _, t := range f.txns[start:] {
		if t.Created >= lt || t.Created < gte {
			continue
		}
		if len(page) == limit {
			more = true
			break
		}
		t.Source, _ = json.Marshal(t.sourceID)
		if expand || t.sourceID == "" {
			t.Source = t.expanded
		}
		page = append(page, t)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/balance_transactions", "has_more": more, "data": page})
}
