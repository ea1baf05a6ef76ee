package httpapi

import (
	"github.com/gofiber/fiber/v2"
)

type webhookReceiptJSON struct {
	Received  bool    `json:"received"`
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	Duplicate bool    `json:"duplicate"`
	Outcome   *string `json:"outcome"`
}

// stripeWebhook receives Stripe's events. The raw body is verified against
// the Stripe-Signature header (a bad or missing one is a 400 and nothing is
// stored), stored by event id and applied in one transaction, so Stripe gets
// its 2xx fast and a redelivery is acknowledged without effect.
func (s *server) stripeWebhook(c *fiber.Ctx) error {
	res, err := s.payments.ReceiveWebhook(c.UserContext(), c.Body(), c.Get("Stripe-Signature"))
	if err != nil {
		return err
	}
	return c.JSON(webhookReceiptJSON{Received: true, ID: res.EventID, Type: res.Type, Duplicate: res.Duplicate, Outcome: optional(res.Outcome)})
}
