package ledger

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// csvColumns are the names a Stripe balance CSV may give each field: the
// Dashboard's "Balance change from activity" (balance history) export, and
// the itemized balance report's names. Matching ignores case and spaces.
var csvColumns = map[string][]string{
	"id":          {"id", "balance_transaction_id"},
	"type":        {"type", "reporting_category"},
	"source":      {"source", "source_id"},
	"amount":      {"amount", "gross"},
	"fee":         {"fee"},
	"net":         {"net"},
	"currency":    {"currency"},
	"created":     {"created (utc)", "created_utc", "created"},
	"description": {"description"},
	"charge":      {"charge id", "charge_id"},
	"intent":      {"payment intent id", "payment_intent_id"},
	"category":    {"reporting_category", "reporting category"},
}

// csvRequired are the fields a balance CSV must have.
var csvRequired = []string{"id", "type", "amount", "currency", "created"}

// maxCSVErrors bounds the problems reported for one file.
const maxCSVErrors = 20

// ParseBalanceCSV reads Stripe balance transactions from a balance CSV
// export. Columns are found by name (see csvColumns; others are ignored):
// id, Type, Source, Amount, Fee, Net, Currency and Created (UTC) are used,
// with optional Description, Charge ID, Payment Intent ID and
// reporting_category. Amounts are in major units ("12.34", "-1,000.00");
// times are UTC ("2026-11-05 10:30", with seconds, RFC 3339 or Unix
// seconds). A missing Fee is 0 and a missing Net is Amount − Fee. A file
// with unreadable rows or a transaction id twice is refused with the lines
// at fault; nothing of it is used.
func ParseBalanceCSV(r io.Reader) ([]BalanceTransaction, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, csvInvalid("the file is empty; upload a Stripe balance CSV export")
	}
	if err != nil {
		return nil, csvInvalid("the file is not CSV: " + err.Error())
	}
	heads := make([]string, len(head))
	for i, h := range head {
		heads[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, utf8BOM)))
	}
	col := map[string]int{}
	for field, names := range csvColumns {
		for _, n := range names { // the first name present wins
			if i := slices.Index(heads, n); i >= 0 {
				col[field] = i
				break
			}
		}
	}
	var missing []string
	for _, f := range csvRequired {
		if _, ok := col[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, csvInvalid("the header has no " + strings.Join(missing, ", ") + " column; upload Stripe's balance CSV export")
	}
	var out []BalanceTransaction
	var problems apperr.Fields
	seen := map[string]int{}
	line := 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			problems.Add("file", fmt.Sprintf("line %d: %v", line, err))
			break
		}
		get := func(field string) string {
			if i, ok := col[field]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if strings.Join(rec, "") == "" {
			continue
		}
		bt, why := csvRow(get)
		if why == "" {
			if first, dup := seen[bt.ID]; dup {
				why = fmt.Sprintf("transaction %s is also on line %d", bt.ID, first)
			}
			seen[bt.ID] = line
		}
		if why != "" {
			if len(problems) < maxCSVErrors {
				problems.Add("file", fmt.Sprintf("line %d: %s", line, why))
			}
			continue
		}
		out = append(out, bt)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func csvInvalid(reason string) error {
	return apperr.Invalid("file: "+reason, apperr.FieldError{Field: "file", Reason: reason})
}

// csvRow reads one row, or says what is wrong with it.
func csvRow(get func(string) string) (BalanceTransaction, string) {
	bt := BalanceTransaction{ID: get("id"), Type: strings.ToLower(get("type")), SourceID: get("source"),
		Currency: strings.ToUpper(get("currency")), Description: get("description"),
		ChargeID: get("charge"), PaymentIntentID: get("intent"), ReportingCategory: strings.ToLower(get("category"))}
	switch {
	case bt.ID == "":
		return bt, "the id is empty"
	case bt.Type == "":
		return bt, "the type is empty"
	case len(bt.Currency) != 3 || strings.Trim(bt.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
		return bt, fmt.Sprintf("currency %q is not an ISO 4217 code", bt.Currency)
	}
	var err error
	if bt.Amount, err = ParseMinor(get("amount"), bt.Currency); err != nil {
		return bt, fmt.Sprintf("amount %q is not an amount in %s", get("amount"), bt.Currency)
	}
	if v := get("fee"); v != "" {
		if bt.Fee, err = ParseMinor(v, bt.Currency); err != nil {
			return bt, fmt.Sprintf("fee %q is not an amount in %s", v, bt.Currency)
		}
	}
	bt.Net = bt.Amount - bt.Fee
	if v := get("net"); v != "" {
		if bt.Net, err = ParseMinor(v, bt.Currency); err != nil {
			return bt, fmt.Sprintf("net %q is not an amount in %s", v, bt.Currency)
		}
	}
	if bt.Created, err = parseCreated(get("created")); err != nil {
		return bt, fmt.Sprintf("created %q is not a UTC time such as 2026-11-05 10:30", get("created"))
	}
	// Without a charge column, the source says what the transaction is of.
	switch src := bt.SourceID; {
	case bt.ChargeID == "" && (strings.HasPrefix(src, "ch_") || strings.HasPrefix(src, "py_")):
		bt.ChargeID = src
	case strings.HasPrefix(src, "re_") || strings.HasPrefix(src, "pyr_"):
		bt.RefundID = src
	}
	return bt, ""
}

func parseCreated(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", time.RFC3339, "2006-01-02T15:04:05", "2006/01/02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, errors.New("not a time")
}
