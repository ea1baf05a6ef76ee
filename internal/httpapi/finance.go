package httpapi

import (
	"bytes"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// mimeCSV is what finance's exports answer with, on Accept: text/csv.
const mimeCSV = "text/csv"

// wantsCSV reports whether the client prefers CSV to JSON.
func wantsCSV(c *fiber.Ctx) bool {
	return c.Accepts(fiber.MIMEApplicationJSON, mimeCSV) == mimeCSV
}

// sendCSV answers a table as a CSV download named name.csv.
func (s *server) sendCSV(c *fiber.Ctx, t ledger.Table, name string) error {
	var b bytes.Buffer
	if err := t.WriteCSV(&b, s.ledger.Location()); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeCSV+"; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	return c.Send(b.Bytes())
}

type accountJSON struct {
	Code       string  `json:"code"`
	NameZH     string  `json:"name_zh"`
	NameEN     string  `json:"name_en"`
	Type       string  `json:"type"`
	NormalSide string  `json:"normal_side"`
	FeeKind    *string `json:"fee_kind"`
}

func toAccountJSON(a ledger.Account) accountJSON {
	return accountJSON{Code: a.Code, NameZH: a.NameZH, NameEN: a.NameEN, Type: a.Type, NormalSide: a.NormalSide, FeeKind: optional(a.FeeKind)}
}

func (s *server) listAccounts(c *fiber.Ctx) error {
	as, err := s.ledger.Accounts(c.UserContext())
	if err != nil {
		return err
	}
	out := struct {
		Items []accountJSON `json:"items"`
	}{Items: each(as, toAccountJSON)}
	return c.JSON(out)
}

type balanceJSON struct {
	Account  string `json:"account,omitempty"`
	Currency string `json:"currency"`
	Debit    int64  `json:"debit"`
	Credit   int64  `json:"credit"`
	Balance  int64  `json:"balance"`
}

// atParam reads the optional RFC 3339 moment of a balance; now by default.
func atParam(c *fiber.Ctx) (time.Time, error) {
	if c.Query("at") == "" {
		return time.Now().UTC(), nil
	}
	var f apperr.Fields
	at := parseTime(&f, "at", c.Query("at"))
	return at, f.Err()
}

func (s *server) accountBalance(c *fiber.Ctx) error {
	at, err := atParam(c)
	if err != nil {
		return err
	}
	a, bs, err := s.ledger.Balance(c.UserContext(), c.Params("code"), at)
	if err != nil {
		return err
	}
	out := struct {
		Account  accountJSON   `json:"account"`
		At       time.Time     `json:"at"`
		Balances []balanceJSON `json:"balances"`
	}{Account: toAccountJSON(a), At: at, Balances: make([]balanceJSON, len(bs))}
	for i, b := range bs {
		out.Balances[i] = balanceJSON{Currency: b.Currency, Debit: b.Debit, Credit: b.Credit, Balance: b.Balance}
	}
	return c.JSON(out)
}

func (s *server) trialBalance(c *fiber.Ctx) error {
	at, err := atParam(c)
	if err != nil {
		return err
	}
	tb, err := s.ledger.TrialBalance(c.UserContext(), at)
	if err != nil {
		return err
	}
	out := struct {
		At       time.Time     `json:"at"`
		Balanced bool          `json:"balanced"`
		Accounts []balanceJSON `json:"accounts"`
		Totals   []balanceJSON `json:"totals"`
	}{At: at, Balanced: tb.Balanced, Accounts: make([]balanceJSON, len(tb.Accounts)), Totals: make([]balanceJSON, len(tb.Totals))}
	for i, b := range tb.Accounts {
		out.Accounts[i] = balanceJSON(b)
	}
	for i, b := range tb.Totals {
		out.Totals[i] = balanceJSON{Currency: b.Currency, Debit: b.Debit, Credit: b.Credit, Balance: b.Balance}
	}
	return c.JSON(out)
}

type lineJSON struct {
	Account  string `json:"account"`
	Debit    int64  `json:"debit"`
	Credit   int64  `json:"credit"`
	Currency string `json:"currency"`
}

type entrySourceJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Ref  string `json:"ref"`
}

type entryJSON struct {
	ID            uuid.UUID       `json:"id"`
	Event         string          `json:"event"`
	Memo          bool            `json:"memo"`
	OccurredAt    time.Time       `json:"occurred_at"`
	PostedAt      time.Time       `json:"posted_at"`
	Amount        int64           `json:"amount"`
	Currency      string          `json:"currency"`
	Description   string          `json:"description"`
	PaymentID     *uuid.UUID      `json:"payment_id"`
	RefundID      *uuid.UUID      `json:"refund_id"`
	ReservationID *uuid.UUID      `json:"reservation_id"`
	Purpose       *purposeJSON    `json:"purpose"`
	Source        entrySourceJSON `json:"source"`
	Reverses      *uuid.UUID      `json:"reverses"`
	Lines         []lineJSON      `json:"lines"`
}

func toEntryJSON(e ledger.Entry) entryJSON {
	out := entryJSON{ID: e.ID, Event: string(e.Event), Memo: e.Memo, OccurredAt: e.OccurredAt, PostedAt: e.PostedAt,
		Amount: e.Amount, Currency: e.Currency, Description: e.Description, PaymentID: e.PaymentID, RefundID: e.RefundID,
		ReservationID: e.ReservationID, Source: entrySourceJSON{e.Source, e.SourceID, e.SourceRef}, Reverses: e.Reverses,
		Lines: make([]lineJSON, len(e.Lines))}
	if e.PurposeID != nil {
		out.Purpose = &purposeJSON{Kind: e.PurposeKind, ID: *e.PurposeID}
	}
	for i, l := range e.Lines {
		out.Lines[i] = lineJSON(l)
	}
	return out
}

// periodQuery reads the from and to dates of the query, when either is
// given (both are then required).
func (s *server) periodQuery(c *fiber.Ctx) (*ledger.Period, error) {
	if c.Query("from") == "" && c.Query("to") == "" {
		return nil, nil
	}
	p, err := s.ledger.ParsePeriod(c.Query("from"), c.Query("to"))
	return &p, err
}

func (s *server) listJournal(c *fiber.Ctx) error {
	pg, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	period, err := s.periodQuery(c)
	if err != nil {
		return err
	}
	var fe apperr.Fields
	f := ledger.JournalFilter{Period: period, Account: c.Query("account"), Event: ledger.Event(c.Query("event")),
		PaymentID:     optionalUUID(&fe, "payment_id", c.Query("payment_id")),
		ReservationID: optionalUUID(&fe, "reservation_id", c.Query("reservation_id"))}
	if f.Event != "" && !slices.Contains(ledger.Events, f.Event) {
		fe.Add("event", "must be one of the journal's events")
	}
	if len(f.Account) > 64 {
		fe.Add("account", "must be an account code")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	items, next, err := s.ledger.Journal(c.UserContext(), f, pg)
	if err != nil {
		return err
	}
	out := struct {
		Items      []entryJSON `json:"items"`
		NextCursor *string     `json:"next_cursor"`
	}{Items: each(items, toEntryJSON), NextCursor: next}
	return c.JSON(out)
}

// report answers one of the finance reports: JSON with amounts in fen, or
// CSV (Accept: text/csv) in yuan. Period reports need from and to; the
// others are as of now.
func (s *server) report(name string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		var t ledger.Table
		var period *ledger.Period
		var err error
		switch name {
		case ledger.ReportOutstandingAuthorizations:
			t, err = s.ledger.OutstandingAuthorizations(ctx)
		case ledger.ReportFailedCaptures:
			t, err = s.ledger.FailedCaptures(ctx)
		default:
			var p ledger.Period
			if p, err = s.ledger.ParsePeriod(c.Query("from"), c.Query("to")); err != nil {
				return err
			}
			period = &p
			switch name {
			case ledger.ReportRevenue:
				t, err = s.ledger.Revenue(ctx, p)
			case ledger.ReportFees:
				t, err = s.ledger.Fees(ctx, p)
			case ledger.ReportRefunds:
				t, err = s.ledger.Refunds(ctx, p)
			case ledger.ReportVAT:
				t, err = s.ledger.VAT(ctx, p)
			}
		}
		if err != nil {
			return err
		}
		file := name
		if period != nil {
			file += "_" + period.From + "_" + period.To
		}
		if wantsCSV(c) {
			return s.sendCSV(c, t, file)
		}
		out := fiber.Map{"report": name, "time_zone": s.ledger.Location().String(), "generated_at": time.Now().UTC(),
			"from": nil, "to": nil, "rows": t.Records(), "totals": t.Totals()}
		if period != nil {
			out["from"], out["to"] = period.From, period.To
		}
		return c.JSON(out)
	}
}
