package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/page"
)

const accountColumns = `code, name_zh, name_en, type, normal_side, COALESCE(fee_kind, '') AS fee_kind`

// Accounts returns the chart of accounts in its order.
func (s *Service) Accounts(ctx context.Context) ([]Account, error) {
	var out []Account
	if err := s.db.SelectContext(ctx, &out, `SELECT `+accountColumns+` FROM ledger_accounts ORDER BY position`); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return out, nil
}

// Account returns one account by its code.
func (s *Service) Account(ctx context.Context, code string) (Account, error) {
	var a Account
	const q = `SELECT ` + accountColumns + ` FROM ledger_accounts WHERE code = $1`
	if err := db.Get(ctx, s.db, &a, "account", q, code); err != nil {
		return a, err
	}
	return a, nil
}

// Balance is an account's totals in one currency; Balance is on the
// account's normal side (debits − credits for a debit account).
type Balance struct {
	Account  string `db:"account"`
	Currency string `db:"currency"`
	Debit    int64  `db:"debit"`
	Credit   int64  `db:"credit"`
	Balance  int64  `db:"balance"`
}

// balances sums lines of entries that occurred at or before at, per account
// and currency; code "" means every account.
func (s *Service) balances(ctx context.Context, code string, at time.Time) ([]Balance, error) {
	// Totals per account and currency up to a moment, signed on each
	// account's normal side, in the chart's order.
	const q = `
		SELECT l.account, l.currency, sum(l.debit) AS debit, sum(l.credit) AS credit,
			CASE a.normal_side WHEN 'debit' THEN sum(l.debit) - sum(l.credit) ELSE sum(l.credit) - sum(l.debit) END AS balance
		FROM journal_lines l
		JOIN journal_entries e ON e.id = l.entry_id
		JOIN ledger_accounts a ON a.code = l.account
		WHERE e.occurred_at <= $1 AND ($2 = '' OR l.account = $2)
		GROUP BY l.account, l.currency, a.normal_side, a.position
		ORDER BY a.position, l.currency`
	var out []Balance
	if err := s.db.SelectContext(ctx, &out, q, at, code); err != nil {
		return nil, fmt.Errorf("balances: %w", err)
	}
	return out, nil
}

// Balance returns an account and its balance per currency as of at. An
// account without lines has a zero balance in the service's currency.
func (s *Service) Balance(ctx context.Context, code string, at time.Time) (Account, []Balance, error) {
	a, err := s.Account(ctx, code)
	if err != nil {
		return a, nil, err
	}
	bs, err := s.balances(ctx, code, at)
	if err != nil {
		return a, nil, err
	}
	if len(bs) == 0 {
		bs = []Balance{{Account: code, Currency: s.opts.Currency}}
	}
	return a, bs, nil
}

// TrialBalance is every account's balance at a moment with the totals of
// all debits and credits per currency, which are equal in a sound ledger.
type TrialBalance struct {
	At       time.Time
	Accounts []Balance
	Totals   []Balance // per currency; Account is empty, Balance is debits − credits
	Balanced bool
}

// TrialBalance returns the trial balance as of at.
func (s *Service) TrialBalance(ctx context.Context, at time.Time) (TrialBalance, error) {
	bs, err := s.balances(ctx, "", at)
	if err != nil {
		return TrialBalance{}, err
	}
	tb := TrialBalance{At: at, Accounts: bs, Balanced: true}
	idx := map[string]int{}
	for _, b := range bs {
		i, ok := idx[b.Currency]
		if !ok {
			i = len(tb.Totals)
			idx[b.Currency] = i
			tb.Totals = append(tb.Totals, Balance{Currency: b.Currency})
		}
		tb.Totals[i].Debit += b.Debit
		tb.Totals[i].Credit += b.Credit
		tb.Totals[i].Balance += b.Debit - b.Credit
	}
	for _, t := range tb.Totals {
		tb.Balanced = tb.Balanced && t.Balance == 0
	}
	return tb, nil
}

// JournalFilter narrows the journal; zero fields do not filter.
type JournalFilter struct {
	Period        *Period
	PaymentID     *uuid.UUID
	ReservationID *uuid.UUID
	Account       string // entries with a line on this account
	Event         Event
}

type entryRow struct {
	ID            uuid.UUID  `db:"id"`
	Event         string     `db:"event"`
	Memo          bool       `db:"memo"`
	Source        string     `db:"source"`
	SourceID      string     `db:"source_id"`
	SourceRef     string     `db:"source_ref"`
	PaymentID     *uuid.UUID `db:"payment_id"`
	RefundID      *uuid.UUID `db:"refund_id"`
	PurposeKind   string     `db:"purpose_kind"`
	PurposeID     *uuid.UUID `db:"purpose_id"`
	ReservationID *uuid.UUID `db:"reservation_id"`
	Amount        int64      `db:"amount"`
	Currency      string     `db:"currency"`
	Description   string     `db:"description"`
	Reverses      *uuid.UUID `db:"reverses"`
	OccurredAt    time.Time  `db:"occurred_at"`
	PostedAt      time.Time  `db:"posted_at"`
}

// Journal returns a page of entries with their lines, oldest first, and the
// next page's cursor.
func (s *Service) Journal(ctx context.Context, f JournalFilter, p page.Request) ([]Entry, *string, error) {
	// Entries in occurrence order after the cursor; each filter applies only
	// when set.
	const q = `
		SELECT id, event, memo, source, source_id, source_ref, payment_id, refund_id, COALESCE(purpose_kind, '') AS purpose_kind,
			purpose_id, reservation_id, amount, currency, description, reverses, occurred_at, posted_at
		FROM journal_entries e
		WHERE ($1::timestamptz IS NULL OR occurred_at >= $1) AND ($2::timestamptz IS NULL OR occurred_at < $2)
		  AND ($3::uuid IS NULL OR payment_id = $3) AND ($4::uuid IS NULL OR reservation_id = $4)
		  AND ($5 = '' OR event = $5)
		  AND ($6 = '' OR EXISTS (SELECT 1 FROM journal_lines l WHERE l.entry_id = e.id AND l.account = $6))
		  AND ($7::timestamptz IS NULL OR (occurred_at, id) > ($7, $8))
		ORDER BY occurred_at, id
		LIMIT $9`
	var from, to *time.Time
	if f.Period != nil {
		from, to = &f.Period.Start, &f.Period.End
	}
	after, afterID := p.Bounds()
	var rows []entryRow
	if err := s.db.SelectContext(ctx, &rows, q, from, to, f.PaymentID, f.ReservationID, string(f.Event), f.Account,
		after, afterID, p.Limit); err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	out := make([]Entry, len(rows))
	ids := make([]string, len(rows))
	at := map[uuid.UUID]int{}
	for i, r := range rows {
		out[i] = Entry{ID: r.ID, Event: Event(r.Event), Memo: r.Memo, Source: r.Source, SourceID: r.SourceID,
			SourceRef: r.SourceRef, PaymentID: r.PaymentID, RefundID: r.RefundID, PurposeKind: r.PurposeKind,
			PurposeID: r.PurposeID, ReservationID: r.ReservationID, Amount: r.Amount, Currency: r.Currency,
			Description: r.Description, Reverses: r.Reverses, OccurredAt: r.OccurredAt.UTC(), PostedAt: r.PostedAt.UTC(),
			Lines: []Line{}}
		ids[i], at[r.ID] = r.ID.String(), i
	}
	// The lines of the page's entries, in order.
	const lines = `
		SELECT entry_id, account, debit, credit, currency FROM journal_lines
		WHERE entry_id = ANY($1::uuid[]) ORDER BY entry_id, line_no`
	var ls []struct {
		EntryID uuid.UUID `db:"entry_id"`
		Line
	}
	if err := s.db.SelectContext(ctx, &ls, lines, pq.Array(ids)); err != nil {
		return nil, nil, fmt.Errorf("journal lines: %w", err)
	}
	for _, l := range ls {
		i := at[l.EntryID]
		out[i].Lines = append(out[i].Lines, l.Line)
	}
	next := page.Next(out, p.Limit, func(e Entry) (time.Time, uuid.UUID) { return e.OccurredAt, e.ID })
	return out, next, nil
}
