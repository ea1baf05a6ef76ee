package ledger_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// insertEntry writes an entry and its lines with plain SQL in one
// transaction, as a careless script would; lines are account, debit, credit.
func insertEntry(d *sqlx.DB, id uuid.UUID, memo bool, lines ...[3]any) error {
	return db.InTx(ctx, d, func(tx *sqlx.Tx) error {
		event := "stripe_fee"
		if memo {
			event = "authorization"
		}
		if _, err := tx.Exec(`INSERT INTO journal_entries (id, event, memo, source, source_id, source_ref, amount, currency, occurred_at)
			VALUES ($1, $2, $3, 'stripe', $4, 'test', 100, 'CNY', now())`, id, event, memo, id.String()); err != nil {
			return err
		}
		for i, l := range lines {
			if _, err := tx.Exec(`INSERT INTO journal_lines (entry_id, line_no, account, debit, credit, currency)
				VALUES ($1, $2, $3, $4, $5, 'CNY')`, id, i+1, l[0], l[1], l[2]); err != nil {
				return err
			}
		}
		return nil
	})
}

func count(t *testing.T, d *sqlx.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Get(&n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTheDatabaseRefusesUnbalancedEntries writes entries directly: the
// deferred constraint trigger refuses, at commit, any entry whose debits and
// credits differ, a money entry with fewer than two lines and a memo with
// lines; nothing of a refused transaction stays.
func TestTheDatabaseRefusesUnbalancedEntries(t *testing.T) {
	d := testenv.DB(t)
	tests := []struct {
		name  string
		memo  bool
		lines [][3]any
		want  string // in the error; "" for accepted
	}{
		{"balanced", false, [][3]any{{"stripe_fees", 100, 0}, {"stripe_clearing", 0, 100}}, ""},
		{"unbalanced", false, [][3]any{{"stripe_fees", 100, 0}, {"stripe_clearing", 0, 99}}, "unbalanced"},
		{"one side only", false, [][3]any{{"stripe_fees", 100, 0}, {"bank", 100, 0}}, "unbalanced"},
		{"a single line", false, [][3]any{{"stripe_fees", 0, 0}}, "journal_lines_one_side"},
		{"no lines", false, nil, "needs at least two"},
		{"a memo with lines", true, [][3]any{{"stripe_fees", 5, 0}, {"stripe_clearing", 0, 5}}, "memo"},
		{"a memo", true, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := uuid.New()
			err := insertEntry(d, id, tt.memo, tt.lines...)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			stored := count(t, d, `SELECT count(*) FROM journal_entries WHERE id = $1`, id)
			if (tt.want == "") != (stored == 1) {
				t.Errorf("%d entries stored", stored)
			}
		})
	}
}

// TestTheJournalIsAppendOnly: a posted entry cannot be changed, removed or
// given another line; corrections are reversing entries.
func TestTheJournalIsAppendOnly(t *testing.T) {
	d := testenv.DB(t)
	id := uuid.New()
	if err := insertEntry(d, id, false, [3]any{"stripe_fees", 300, 0}, [3]any{"stripe_clearing", 0, 300}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE journal_entries SET amount = 1 WHERE id = $1`,
		`DELETE FROM journal_entries WHERE id = $1`,
		`UPDATE journal_lines SET debit = 1 WHERE entry_id = $1 AND line_no = 1`,
		`DELETE FROM journal_lines WHERE entry_id = $1`,
		`INSERT INTO journal_lines (entry_id, line_no, account, debit, credit, currency) VALUES ($1, 3, 'bank', 0, 0 + 300, 'CNY')`,
	} {
		if _, err := d.Exec(q, id); err == nil || !(strings.Contains(err.Error(), "append-only") || strings.Contains(err.Error(), "posted already")) {
			t.Errorf("%s: %v, want it refused", q, err)
		}
	}
	for _, q := range []string{`TRUNCATE journal_lines`, `TRUNCATE journal_entries CASCADE`} {
		if _, err := d.Exec(q); err == nil {
			t.Errorf("%s was allowed", q)
		}
	}
	if n := count(t, d, `SELECT count(*) FROM journal_lines WHERE entry_id = $1`, id); n != 2 {
		t.Errorf("%d lines after the attempts, want 2", n)
	}
}
