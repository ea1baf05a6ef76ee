package httpapi

import (
	"mime"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/page"
)

type reconciliationRequest struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Source string `json:"source"`
}

// createReconciliation runs a reconciliation: a JSON body for source
// stripe_api, or multipart/form-data with the balance CSV as the file part
// (and from, to) for source csv.
func (s *server) createReconciliation(c *fiber.Ctx) error {
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	var req reconciliationRequest
	r := ledger.ReconcileRequest{By: principal(c).UserID}
	if mt == fiber.MIMEMultipartForm {
		req = reconciliationRequest{From: c.FormValue("from"), To: c.FormValue("to"), Source: c.FormValue("source")}
		if req.Source == "" {
			req.Source = ledger.SourceCSV
		}
		if req.Source != ledger.SourceCSV {
			return apperr.Invalid("source: an upload is a csv reconciliation", apperr.FieldError{Field: "source", Reason: "must be csv with a file"})
		}
		fh, err := c.FormFile("file")
		if err != nil {
			return apperr.Invalid("file: upload the Stripe balance CSV as the file part", apperr.FieldError{Field: "file", Reason: "is required"})
		}
		f, err := fh.Open()
		if err != nil {
			return apperr.Invalid("file: the upload cannot be read", apperr.FieldError{Field: "file", Reason: "cannot be read"})
		}
		defer f.Close()
		r.CSV, r.FileName = f, fh.Filename
	} else {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if req.Source == ledger.SourceCSV {
			return apperr.Invalid("source: upload a CSV as multipart/form-data", apperr.FieldError{Field: "source",
				Reason: "csv needs the file: send multipart/form-data with a file part"})
		}
	}
	p, err := s.ledger.ParsePeriod(req.From, req.To)
	if err != nil {
		return err
	}
	r.Period, r.Source = p, req.Source
	run, err := s.ledger.Reconcile(c.UserContext(), r)
	if err != nil {
		return err
	}
	c.Location("/v1/finance/reconciliations/" + run.ID.String())
	return c.Status(fiber.StatusCreated).JSON(toRunJSON(run, true))
}

type runTotalJSON struct {
	Currency     string `json:"currency"`
	Items        int64  `json:"items"`
	StripeAmount int64  `json:"stripe_amount"`
	StripeFee    int64  `json:"stripe_fee"`
	StripeNet    int64  `json:"stripe_net"`
	LedgerAmount int64  `json:"ledger_amount"`
}

type runJSON struct {
	ID          uuid.UUID        `json:"id"`
	Source      string           `json:"source"`
	From        string           `json:"from"`
	To          string           `json:"to"`
	PeriodStart time.Time        `json:"period_start"`
	PeriodEnd   time.Time        `json:"period_end"`
	Status      string           `json:"status"`
	FileName    *string          `json:"file_name"`
	SkippedRows int              `json:"skipped_rows"`
	Error       *string          `json:"error"`
	CreatedBy   *uuid.UUID       `json:"created_by"`
	CreatedAt   time.Time        `json:"created_at"`
	CompletedAt *time.Time       `json:"completed_at"`
	Counts      map[string]int64 `json:"counts,omitempty"`
	Totals      []runTotalJSON   `json:"totals,omitempty"`
	Recorded    map[string]int64 `json:"recorded,omitempty"`
}

// toRunJSON renders a run; with detail, its counts, totals and bookings.
func toRunJSON(r ledger.Run, detail bool) runJSON {
	out := runJSON{ID: r.ID, Source: r.Source, From: r.Period.From, To: r.Period.To, PeriodStart: r.Period.Start,
		PeriodEnd: r.Period.End, Status: r.Status, FileName: optional(r.FileName), SkippedRows: r.SkippedRows,
		Error: optional(r.Error), CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, CompletedAt: r.CompletedAt}
	if detail {
		out.Counts, out.Recorded, out.Totals = r.Counts, r.Recorded, make([]runTotalJSON, len(r.Totals))
		for i, t := range r.Totals {
			out.Totals[i] = runTotalJSON(t)
		}
	}
	return out
}

func (s *server) listReconciliations(c *fiber.Ctx) error {
	pg, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	runs, next, err := s.ledger.Runs(c.UserContext(), pg)
	if err != nil {
		return err
	}
	out := struct {
		Items      []runJSON `json:"items"`
		NextCursor *string   `json:"next_cursor"`
	}{Items: make([]runJSON, len(runs)), NextCursor: next}
	for i, r := range runs {
		out.Items[i] = toRunJSON(r, false)
	}
	return c.JSON(out)
}

func (s *server) getReconciliation(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reconciliation")
	if err != nil {
		return err
	}
	run, err := s.ledger.Run(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toRunJSON(run, true))
}

type itemJSON struct {
	ID                   uuid.UUID  `json:"id"`
	Status               string     `json:"status"`
	Kind                 string     `json:"kind"`
	BalanceTransactionID *string    `json:"balance_transaction_id"`
	StripeType           *string    `json:"stripe_type"`
	SourceID             *string    `json:"source_id"`
	ChargeID             *string    `json:"charge_id"`
	PaymentIntentID      *string    `json:"payment_intent_id"`
	RefundStripeID       *string    `json:"refund_stripe_id"`
	Amount               *int64     `json:"amount"`
	Fee                  *int64     `json:"fee"`
	Net                  *int64     `json:"net"`
	Currency             *string    `json:"currency"`
	Created              time.Time  `json:"created"`
	Description          *string    `json:"description"`
	PaymentID            *uuid.UUID `json:"payment_id"`
	RefundID             *uuid.UUID `json:"refund_id"`
	LedgerAmount         *int64     `json:"ledger_amount"`
	LedgerFee            *int64     `json:"ledger_fee"`
	LedgerCurrency       *string    `json:"ledger_currency"`
	Recorded             []string   `json:"recorded"`
	Note                 string     `json:"note"`
}

// listReconciliationItems answers a page of a run's items, or with Accept:
// text/csv all of them (of the status asked) as a CSV export.
func (s *server) listReconciliationItems(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reconciliation")
	if err != nil {
		return err
	}
	status := c.Query("status")
	ctx := c.UserContext()
	if wantsCSV(c) {
		t, err := s.ledger.ItemsTable(ctx, id, status)
		if err != nil {
			return err
		}
		return s.sendCSV(c, t, "reconciliation_"+id.String()+strings.TrimSuffix("_"+status, "_"))
	}
	pg, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	items, next, err := s.ledger.Items(ctx, id, status, pg)
	if err != nil {
		return err
	}
	out := struct {
		Items      []itemJSON `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}{Items: make([]itemJSON, len(items)), NextCursor: next}
	for i, it := range items {
		j := itemJSON{ID: it.ID, Status: it.Status, Kind: it.Kind, BalanceTransactionID: it.BalanceTransactionID,
			StripeType: it.StripeType, SourceID: it.SourceID, ChargeID: it.ChargeID, PaymentIntentID: it.PaymentIntentID,
			RefundStripeID: it.RefundStripeID, Amount: it.Amount, Fee: it.Fee, Net: it.Net, Currency: it.Currency,
			Created: it.Created, Description: it.Description, PaymentID: it.PaymentID, RefundID: it.RefundID,
			LedgerAmount: it.LedgerAmount, LedgerFee: it.LedgerFee, LedgerCurrency: it.LedgerCurrency,
			Recorded: it.Recorded, Note: it.Note}
		if j.Recorded == nil {
			j.Recorded = []string{}
		}
		out.Items[i] = j
	}
	return c.JSON(out)
}
