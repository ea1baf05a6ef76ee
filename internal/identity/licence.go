package identity

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

var (
	licenceNumberRE = regexp.MustCompile(`^[A-Z0-9-]{5,32}$`)
	regionRE        = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)
)

// LicenceSubmission is what a resident sends about their driving licence.
type LicenceSubmission struct {
	Number        string
	IssuingRegion string // ISO 3166-1 alpha-2, optionally with a subdivision: CN, CN-JL, HK
	ExpiresOn     string // YYYY-MM-DD
	PhotoRef      *string
}

// today is the current date in the business time zone, as midnight UTC, the
// form PostgreSQL dates are read in.
func (s *Service) today() time.Time {
	y, m, d := s.opts.Now().In(s.opts.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// SubmitLicence records a licence for review; a new submission replaces the
// old one and waits for review again.
func (s *Service) SubmitLicence(ctx context.Context, userID uuid.UUID, in LicenceSubmission) (Licence, error) {
	var f apperr.Fields
	number := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(in.Number), " ", ""))
	if !licenceNumberRE.MatchString(number) {
		f.Add("number", "must be 5 to 32 letters, digits or dashes")
	}
	region := strings.ToUpper(strings.TrimSpace(in.IssuingRegion))
	if !regionRE.MatchString(region) {
		f.Add("issuing_region", "must be an ISO 3166 code such as CN or CN-JL")
	}
	expires, err := time.Parse(time.DateOnly, in.ExpiresOn)
	if err != nil {
		f.Add("expires_on", "must be a date as YYYY-MM-DD")
	} else if !expires.After(s.today()) {
		f.Add("expires_on", "the licence has expired")
	}
	if in.PhotoRef != nil && (len(*in.PhotoRef) == 0 || len(*in.PhotoRef) > 512) {
		f.Add("photo_ref", "must be 1 to 512 characters")
	}
	if err := f.Err(); err != nil {
		return Licence{}, err
	}
	const q = `
		INSERT INTO driving_licences (user_id, number, issuing_region, expires_on, photo_ref, status, submitted_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6)
		ON CONFLICT (user_id) DO UPDATE SET
			number = EXCLUDED.number, issuing_region = EXCLUDED.issuing_region,
			expires_on = EXCLUDED.expires_on, photo_ref = EXCLUDED.photo_ref,
			status = 'pending', submitted_at = EXCLUDED.submitted_at,
			reviewed_at = NULL, reviewed_by = NULL, rejection_reason = NULL`
	if _, err := s.db.ExecContext(ctx, q, userID, number, region, expires, in.PhotoRef, s.opts.Now().UTC()); err != nil {
		return Licence{}, fmt.Errorf("submit licence: %w", err)
	}
	return s.licence(ctx, userID)
}

func (s *Service) licence(ctx context.Context, userID uuid.UUID) (Licence, error) {
	u, err := s.User(ctx, userID)
	if err != nil {
		return Licence{}, err
	}
	if u.Licence == nil {
		return Licence{}, apperr.NotFound("driving licence")
	}
	return *u.Licence, nil
}

// Licence returns the driving licence of userID.
func (s *Service) Licence(ctx context.Context, userID uuid.UUID) (Licence, error) {
	return s.licence(ctx, userID)
}

// LicenceDecision is an operator's verdict on a pending licence.
type LicenceDecision struct {
	Approve bool
	Reason  string // required to reject
}

// DecideLicence approves or rejects a pending licence. Only a pending licence
// can be decided, and never by its own holder.
func (s *Service) DecideLicence(ctx context.Context, by Principal, userID uuid.UUID, d LicenceDecision) (Licence, error) {
	d.Reason = strings.TrimSpace(d.Reason)
	if !d.Approve && (d.Reason == "" || len(d.Reason) > 500) {
		return Licence{}, apperr.Invalid("reason: a rejection needs a reason of up to 500 characters",
			apperr.FieldError{Field: "reason", Reason: "a rejection needs a reason of up to 500 characters"})
	}
	if by.UserID == userID {
		return Licence{}, apperr.New(apperr.KindForbidden, "own_licence", "another operator must review your own licence")
	}
	cur, err := s.licence(ctx, userID)
	if err != nil {
		return Licence{}, err
	}
	if d.Approve && !cur.ExpiresOn.After(s.today()) {
		return Licence{}, apperr.New(apperr.KindConflict, "licence_expired", "the licence has expired and cannot be approved")
	}
	status, reason := LicenceApproved, (*string)(nil)
	if !d.Approve {
		status, reason = LicenceRejected, &d.Reason
	}
	// Guarded: only a pending licence moves, so two reviewers cannot both decide.
	const q = `
		UPDATE driving_licences SET status = $2, reviewed_at = $3, reviewed_by = $4, rejection_reason = $5
		WHERE user_id = $1 AND status = 'pending'`
	res, err := s.db.ExecContext(ctx, q, userID, status, s.opts.Now().UTC(), by.UserID, reason)
	if err != nil {
		return Licence{}, fmt.Errorf("decide licence: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		e := apperr.New(apperr.KindConflict, "invalid_state", "only a pending licence can be decided; this one is "+string(cur.Status))
		e.Meta = map[string]any{"current_state": string(cur.Status)}
		return Licence{}, e
	}
	return s.licence(ctx, userID)
}

// CanBook says whether userID may book a car on day at: they need an approved
// licence that has not expired by then.
func (s *Service) CanBook(ctx context.Context, userID uuid.UUID, at time.Time) error {
	l, err := s.licence(ctx, userID)
	refuse := func(detail string) error {
		return apperr.New(apperr.KindForbidden, "licence_not_verified", detail)
	}
	switch {
	case apperr.Is(err, apperr.KindNotFound):
		return refuse("add your driving licence and wait for it to be verified before booking")
	case err != nil:
		return err
	case l.Status == LicencePending:
		return refuse("your driving licence is waiting for verification")
	case l.Status == LicenceRejected:
		return refuse("your driving licence was rejected; submit it again")
	}
	y, m, d := at.In(s.opts.Location).Date()
	if !l.ExpiresOn.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)) {
		return refuse("your driving licence has expired; submit the new one")
	}
	return nil
}
