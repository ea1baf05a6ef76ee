package ledger

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ColumnKind says what a report column holds and how it is written.
type ColumnKind int

// The kinds of column.
const (
	Text  ColumnKind = iota // string or *string
	Date                    // a YYYY-MM-DD string: a business day
	Time                    // time.Time or *time.Time: RFC 3339, UTC in JSON, the business zone in CSV
	Money                   // int64 or *int64 minor units of the row's currency: fen in JSON, yuan in CSV
	Count                   // int64: summed in the totals
	Int                     // int64: not summed (an age, a position)
	ID                      // uuid.UUID or *uuid.UUID
	List                    // []string: an array in JSON, joined by ";" in CSV
)

// Column is one column of a report.
type Column struct {
	Name string
	Kind ColumnKind
}

// Table is a report: typed columns and rows of values, rendered as JSON
// objects or as CSV. Money columns are in the currency of the row's
// "currency" column.
type Table struct {
	Name    string
	Columns []Column
	Rows    [][]any
}

func (t Table) currencyIndex() int {
	for i, c := range t.Columns {
		if c.Name == "currency" {
			return i
		}
	}
	return -1
}

// Records returns the rows as JSON-ready objects keyed by column name.
func (t Table) Records() []map[string]any {
	out := make([]map[string]any, len(t.Rows))
	for i, row := range t.Rows {
		rec := make(map[string]any, len(t.Columns))
		for j, c := range t.Columns {
			rec[c.Name] = jsonValue(row[j])
		}
		out[i] = rec
	}
	return out
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *int64:
		if x == nil {
			return nil
		}
		return *x
	case time.Time:
		return x.UTC()
	case *time.Time:
		if x == nil {
			return nil
		}
		return x.UTC()
	case *uuid.UUID:
		if x == nil {
			return nil
		}
		return *x
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return v
}

// Totals sums the money and count columns per currency, in the order the
// currencies first appear.
func (t Table) Totals() []map[string]any {
	ci := t.currencyIndex()
	var out []map[string]any
	idx := map[string]int{}
	for _, row := range t.Rows {
		cur := ""
		if ci >= 0 {
			cur, _ = row[ci].(string)
		}
		i, ok := idx[cur]
		if !ok {
			i = len(out)
			idx[cur] = i
			tot := map[string]any{"currency": cur}
			for _, c := range t.Columns {
				if c.Kind == Money || c.Kind == Count {
					tot[c.Name] = int64(0)
				}
			}
			out = append(out, tot)
		}
		for j, c := range t.Columns {
			if c.Kind != Money && c.Kind != Count {
				continue
			}
			switch x := row[j].(type) {
			case int64:
				out[i][c.Name] = out[i][c.Name].(int64) + x
			case *int64:
				if x != nil {
					out[i][c.Name] = out[i][c.Name].(int64) + *x
				}
			}
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	return out
}

// utf8BOM makes Excel read the CSV as UTF-8, so Chinese text shows right.
const utf8BOM = "\ufeff"

// WriteCSV writes the table as CSV: a UTF-8 byte order mark, a header of
// column names, then the rows; money in major units with the currency's
// decimals (yuan with two, computed in integers), times in loc.
func (t Table) WriteCSV(w io.Writer, loc *time.Location) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(utf8BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	rec := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		rec[i] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	ci := t.currencyIndex()
	for _, row := range t.Rows {
		cur := ""
		if ci >= 0 {
			cur, _ = row[ci].(string)
		}
		for j, c := range t.Columns {
			rec[j] = csvValue(row[j], c.Kind, cur, loc)
			if c.Kind == Text || c.Kind == List {
				rec[j] = inert(rec[j])
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// inert keeps a spreadsheet from running text as a formula (text from
// Stripe or an upload could start with "="): such a cell gets a leading
// apostrophe, which Excel shows as text.
func inert(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvValue(v any, kind ColumnKind, currency string, loc *time.Location) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case *string:
		if x == nil {
			return ""
		}
		return *x
	case int64:
		if kind == Money {
			return FormatMinor(x, currency)
		}
		return strconv.FormatInt(x, 10)
	case *int64:
		if x == nil {
			return ""
		}
		return csvValue(*x, kind, currency, loc)
	case time.Time:
		return x.In(loc).Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			return ""
		}
		return x.In(loc).Format(time.RFC3339)
	case uuid.UUID:
		return x.String()
	case *uuid.UUID:
		if x == nil {
			return ""
		}
		return x.String()
	case []string:
		return strings.Join(x, ";")
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
