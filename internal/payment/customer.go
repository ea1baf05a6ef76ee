package payment

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

// customerID returns the resident's Stripe Customer, making it on first
// need. The idempotency key is the user's id, so two first needs at once
// make one customer.
func (s *Service) customerID(ctx context.Context, userID uuid.UUID) (string, error) {
	var id string
	err := s.db.GetContext(ctx, &id, `SELECT stripe_customer_id FROM payment_customers WHERE user_id = $1`, userID)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("customer of %s: %w", userID, err)
	}
	params := &stripe.CustomerParams{Metadata: map[string]string{"user_id": userID.String()}}
	if s.opts.Contacts != nil {
		c, err := s.opts.Contacts(ctx, userID)
		if err != nil {
			return "", err
		}
		params.Email, params.Name = stripe.String(c.Email), stripe.String(c.Name)
		if c.Phone != "" {
			params.Phone = stripe.String(c.Phone)
		}
	}
	params.SetIdempotencyKey(customerKey(userID))
	cus, err := s.stripe.API.Customers.New(params)
	if err != nil {
		return "", providerError(err)
	}
	// The first one stored wins; a concurrent maker reads it back.
	const insert = `
		INSERT INTO payment_customers (user_id, stripe_customer_id) VALUES ($1, $2)
		ON CONFLICT (user_id) DO NOTHING`
	if _, err := s.db.ExecContext(ctx, insert, userID, cus.ID); err != nil {
		return "", fmt.Errorf("store customer: %w", db.Translate(err))
	}
	if err := s.db.GetContext(ctx, &id, `SELECT stripe_customer_id FROM payment_customers WHERE user_id = $1`, userID); err != nil {
		return "", fmt.Errorf("customer of %s: %w", userID, err)
	}
	return id, nil
}

var paymentMethodRE = regexp.MustCompile(`^pm_[A-Za-z0-9_]{1,250}$`)

// SetupRequest asks for a SetupIntent to save a card.
type SetupRequest struct {
	// PaymentMethod, when set (a pm_… made by the app with Stripe's SDK, or
	// a test card such as pm_card_visa), is confirmed at once by the server;
	// without it the app confirms with the ClientSecret.
	PaymentMethod string
	// RequestKey distinguishes requests; a retry with the same key gets the
	// same SetupIntent. Empty: a new one.
	RequestKey string
}

// CreateSetupIntent returns a SetupIntent (usage off_session) on the
// resident's customer, for the app to save a card. The card is recorded
// when Stripe's payment_method.attached event arrives.
func (s *Service) CreateSetupIntent(ctx context.Context, userID uuid.UUID, r SetupRequest) (SetupIntent, error) {
	if r.PaymentMethod != "" && !paymentMethodRE.MatchString(r.PaymentMethod) {
		return SetupIntent{}, apperr.Invalid("payment_method: must be a Stripe payment method id (pm_…)",
			apperr.FieldError{Field: "payment_method", Reason: "must be a Stripe payment method id (pm_…)"})
	}
	customer, err := s.customerID(ctx, userID)
	if err != nil {
		return SetupIntent{}, err
	}
	params := &stripe.SetupIntentParams{
		Customer:           stripe.String(customer),
		Usage:              stripe.String(string(stripe.SetupIntentUsageOffSession)),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		Metadata:           map[string]string{"user_id": userID.String()},
	}
	if r.PaymentMethod != "" {
		params.PaymentMethod, params.Confirm = stripe.String(r.PaymentMethod), stripe.Bool(true)
	}
	key := uuid.NewString()
	if r.RequestKey != "" {
		sum := sha256.Sum256([]byte(r.RequestKey))
		key = hex.EncodeToString(sum[:12])
	}
	params.SetIdempotencyKey("seti_" + userID.String() + "_" + key)
	si, err := s.stripe.API.SetupIntents.New(params)
	if err != nil {
		return SetupIntent{}, providerError(err)
	}
	if r.PaymentMethod != "" && s.opts.Relay != nil {
		s.opts.Relay.setupConfirmed(ctx, s.stripe, customer, si.ID, r.PaymentMethod)
	}
	return SetupIntent{ID: si.ID, ClientSecret: si.ClientSecret, Status: string(si.Status), CustomerID: customer}, nil
}

type cardRow struct {
	ID        string    `db:"id"`
	Brand     string    `db:"brand"`
	Last4     string    `db:"last4"`
	ExpMonth  int       `db:"exp_month"`
	ExpYear   int       `db:"exp_year"`
	IsDefault bool      `db:"is_default"`
	CreatedAt time.Time `db:"created_at"`
}

func (r cardRow) card() Card {
	return Card{ID: r.ID, Brand: r.Brand, Last4: r.Last4, ExpMonth: r.ExpMonth, ExpYear: r.ExpYear,
		IsDefault: r.IsDefault, CreatedAt: r.CreatedAt.UTC()}
}

// cardColumns reads a card with whether it is its customer's default; the
// FROM clause is cardFrom.
const cardColumns = `m.id, m.brand, m.last4, m.exp_month, m.exp_year,
	COALESCE(c.default_payment_method = m.id, false) AS is_default, m.created_at`

const cardFrom = ` FROM payment_methods m JOIN payment_customers c ON c.user_id = m.user_id `

// Cards returns the resident's saved cards, oldest first.
func (s *Service) Cards(ctx context.Context, userID uuid.UUID) ([]Card, error) {
	var rows []cardRow
	const q = `SELECT ` + cardColumns + cardFrom + ` WHERE m.user_id = $1 AND m.detached_at IS NULL ORDER BY m.created_at, m.id`
	if err := s.db.SelectContext(ctx, &rows, q, userID); err != nil {
		return nil, fmt.Errorf("cards of %s: %w", userID, err)
	}
	out := make([]Card, len(rows))
	for i, r := range rows {
		out[i] = r.card()
	}
	return out, nil
}

// card returns one of the resident's attached cards; another resident's
// card is not found.
func (s *Service) card(ctx context.Context, q sqlx.QueryerContext, userID uuid.UUID, id string) (Card, error) {
	var r cardRow
	const query = `SELECT ` + cardColumns + cardFrom + ` WHERE m.user_id = $1 AND m.id = $2 AND m.detached_at IS NULL`
	if err := db.Get(ctx, q, &r, "payment method", query, userID, id); err != nil {
		return Card{}, err
	}
	return r.card(), nil
}

// SetDefaultCard makes one of the resident's cards the one off-session
// payments use.
func (s *Service) SetDefaultCard(ctx context.Context, userID uuid.UUID, id string) (Card, error) {
	// Only a card of this resident that is still attached.
	const q = `
		UPDATE payment_customers c SET default_payment_method = $2, updated_at = now()
		WHERE c.user_id = $1 AND EXISTS (
			SELECT 1 FROM payment_methods m WHERE m.id = $2 AND m.user_id = c.user_id AND m.detached_at IS NULL)`
	res, err := s.db.ExecContext(ctx, q, userID, id)
	if err != nil {
		return Card{}, fmt.Errorf("set default card: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Card{}, apperr.NotFound("payment method")
	}
	return s.card(ctx, s.db, userID, id)
}

// RemoveCard detaches one of the resident's cards from their customer. If
// it was the default, the newest remaining card becomes the default.
func (s *Service) RemoveCard(ctx context.Context, userID uuid.UUID, id string) error {
	if _, err := s.card(ctx, s.db, userID, id); err != nil {
		return err
	}
	params := &stripe.PaymentMethodDetachParams{}
	params.SetIdempotencyKey("pm_" + id + "_detach")
	if _, err := s.stripe.API.PaymentMethods.Detach(id, params); err != nil {
		// A card Stripe no longer has attached is as good as detached.
		if se, permanent := stripeError(err); se == nil || !permanent || se.HTTPStatusCode == 402 {
			return providerError(err)
		}
	}
	return db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		return s.detached(ctx, tx, id, time.Now())
	})
}

// detached marks a card detached as of at and, if it was the default,
// makes the newest remaining card the default.
func (s *Service) detached(ctx context.Context, tx *sqlx.Tx, id string, at time.Time) error {
	const mark = `
		UPDATE payment_methods SET detached_at = $2, changed_at = $2
		WHERE id = $1 AND detached_at IS NULL AND changed_at <= $2
		RETURNING user_id`
	var userID uuid.UUID
	err := tx.GetContext(ctx, &userID, mark, id, at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach card: %w", err)
	}
	// The newest attached card replaces a removed default.
	const redefault = `
		UPDATE payment_customers c SET default_payment_method = (
			SELECT m.id FROM payment_methods m WHERE m.user_id = c.user_id AND m.detached_at IS NULL
			ORDER BY m.created_at DESC, m.id DESC LIMIT 1), updated_at = now()
		WHERE c.user_id = $1 AND c.default_payment_method = $2`
	if _, err := tx.ExecContext(ctx, redefault, userID, id); err != nil {
		return fmt.Errorf("replace default card: %w", err)
	}
	return nil
}
