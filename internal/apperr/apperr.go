// Package apperr defines the one error type of the service: every capability
// returns it for failures a caller can act on, and the HTTP layer maps its
// Kind to a status in a single table.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds of error, each answered with one HTTP status by the API.
const (
	KindInternal         Kind = iota // a defect or an outage: logged in full, answered bare
	KindInvalid                      // the request is malformed or a value is out of range
	KindNotFound                     // the object does not exist, or is not the caller's
	KindConflict                     // the object exists, or is in a state that forbids the change
	KindUnavailable                  // a resource (a car, a slot) is already taken
	KindUnauthenticated              // no, a bad, an expired or a revoked credential
	KindForbidden                    // authenticated but not allowed
	KindPaymentFailed                // the payment provider declined
	KindTooLarge                     // the request body is over the limit
	KindRateLimited                  // too many attempts; retry later
	KindUnprocessable                // well-formed but cannot be applied (e.g. idempotency key reuse)
	KindUnsupportedMedia             // the body is not in a format the operation accepts
	KindDependency                   // a dependency (the database, Stripe) is down
)

// FieldError names one invalid field of a request and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is a failure with a stable machine-readable Code and a human Detail.
type Error struct {
	Kind   Kind
	Code   string
	Detail string
	Fields []FieldError
	// Meta carries extra members for the problem document (e.g. the current
	// state of an object in an invalid_state conflict).
	Meta map[string]any
	// RetryAfter, in seconds, is set on rate-limit errors.
	RetryAfter int
	Err        error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	}
	return e.Code + ": " + e.Detail
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind with a code and a detail.
func New(kind Kind, code, detail string) *Error {
	return &Error{Kind: kind, Code: code, Detail: detail}
}

// Invalid returns a validation error naming the fields at fault.
func Invalid(detail string, fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Code: "validation_failed", Detail: detail, Fields: fields}
}

// NotFound returns a not-found error for the named object.
func NotFound(object string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Detail: object + " not found"}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Is reports whether err carries an *Error of the given kind.
func Is(err error, kind Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == kind
}

// HasCode reports whether err carries an *Error with the given code.
func HasCode(err error, code string) bool {
	e, ok := As(err)
	return ok && e.Code == code
}

// Fields collects field errors; Err returns nil when there are none, so
// validators can be written as a sequence of checks.
type Fields []FieldError

// Add records that field is invalid for reason.
func (f *Fields) Add(field, reason string) {
	*f = append(*f, FieldError{Field: field, Reason: reason})
}

// Err returns a validation error listing the collected fields, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	detail := "the request has invalid fields"
	if len(f) == 1 {
		detail = f[0].Field + ": " + f[0].Reason
	}
	return Invalid(detail, f...)
}
