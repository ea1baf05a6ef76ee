package pricing

import (
	"errors"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *InvalidError, so callers can
// turn any bad plan or input into a 4xx without knowing the details.
var ErrInvalid = errors.New("pricing: invalid input")

// FieldError names one invalid field (snake_case, as the API spells it) and
// why it is invalid.
type FieldError struct {
	Field  string
	Reason string
}

// InvalidError lists every invalid field of a plan or an input, so a handler
// can report them all at once instead of one per round trip.
type InvalidError struct {
	Subject string // "plan", "quote input", "final input", "cancellation input"
	Fields  []FieldError
}

// Error implements error, naming each field and its reason.
func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString("pricing: invalid ")
	b.WriteString(e.Subject)
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(" ")
		b.WriteString(f.Reason)
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// problems collects field errors without allocating until the first one.
type problems struct {
	subject string
	fields  []FieldError
}

func (p *problems) add(field, reason string) {
	p.fields = append(p.fields, FieldError{Field: field, Reason: reason})
}

func (p *problems) err() error {
	if len(p.fields) == 0 {
		return nil
	}
	return &InvalidError{Subject: p.subject, Fields: p.fields}
}
