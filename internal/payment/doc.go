// Package payment takes residents' money through Stripe; it is the only
// package that imports stripe-go. It keeps one Stripe Customer per resident
// and their saved cards, a record of every payment with an append-only
// history, refunds, and the received Stripe events.
//
// # The API for the rest of the product
//
// A payment is keyed by its Purpose (e.g. Purpose{Kind: "reservation", ID:
// reservationID}). Each operation comes in two forms. The Tx form takes the
// caller's transaction, records the change and writes the Stripe call to the
// outbox in that same transaction, so a reservation's state change and its
// payment step commit together or not at all; it makes no network call. The
// plain form runs the Tx form in its own transaction and then makes the
// Stripe call at once (Process), returning the payment as recorded.
//
//	AuthorizeTx / Authorize(AuthorizeRequest{Purpose, UserID, Amount, Currency, Description, OffSession})
//	    a PaymentIntent with capture_method=manual. Without OffSession the
//	    payment is requires_action and its ClientSecret goes to the app; with
//	    it the resident's default card is confirmed off-session and the
//	    payment becomes authorized. At most one live authorisation per
//	    purpose: asking again returns it.
//	CaptureTx / Capture(paymentID, amount)      amount ≤ the authorised amount
//	ReleaseTx / Release(paymentID)              cancels the PaymentIntent
//	IncrementTx(paymentID, amount)              raises a hold to a new total (Stripe's incremental
//	    authorisation, asked for when the PaymentIntent is made); a refusal keeps the hold as it was
//	ChargeOffSessionTx / ChargeOffSession(ChargeRequest{Purpose, UserID, Amount, Currency, Description})
//	    an automatic-capture charge of the default card: a difference over
//	    the hold, or a fee
//	RefundTx / Refund(RefundRequest{PaymentID, Amount, Reason, Note, IdempotencyKey, By})
//	Process(paymentID)                          after committing a Tx form: make its Stripe calls now
//	OnStatusChange(func(ctx, tx, Payment) error) told of every status move, in its transaction
//	OnMoneyMoved(func(ctx, tx, Movement) error)  told of every money movement (captured, refunded,
//	    refund_reversed, disputed), in its transaction: the ledger books them
//	(*Stripe).BalanceTransactions(ctx, from, to, fn)
//	    Stripe's balance transactions of a period, auto-paginated, for reconciliation
//	Get, History, Refunds, List                 reading
//
// A caller that uses a Tx form calls Process after its commit when it wants
// the outcome before answering; otherwise the worker makes the call within
// about a second. Declines come back as apperr.KindPaymentFailed errors
// (code payment_declined or no_payment_method) with the payment failed and
// the reason recorded.
//
// # Exactly once
//
// Every Stripe call carries an idempotency key derived from our ids:
// pay_<payment id>_authorize, _charge, _capture, _release,
// _increment_<amount>; refund_<refund id>; cus_<user id>. Calls that follow a database change go through the
// outbox (worker.Queue, declared here as the Outbox interface): written in
// the same transaction, retried with exponential backoff until Stripe
// answers, each retry with the same key. A crash between the commit and the
// call leaves the job in the outbox; a crash after the call but before its
// answer is recorded makes the job run again and Stripe replay its answer.
//
// # State comes from Stripe
//
// A payment's status moves only on what Stripe says: the status in its
// answers and its webhook events (ReceiveWebhook), never on assumed success,
// and only forward, so events may arrive late, twice or out of order. The
// database enforces captured ≤ authorised and refunded ≤ captured.
//
// # Mock mode
//
// Without STRIPE_SECRET_KEY the service talks to stripe-mock, which keeps
// no state and sends no webhooks. The MockEventRelay, built only in that
// mode, delivers the signed events real Stripe would send to our own webhook
// endpoint after each call, so state moves through the same path.
package payment
