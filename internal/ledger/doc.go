// Package ledger keeps the books: a double-entry journal of every money
// event, reconciliation of the books against Stripe's balance, and the
// reports finance exports. It owns the tables ledger_accounts,
// journal_entries, journal_lines, reconciliation_runs and
// reconciliation_items (migrations/00007_ledger.sql), and reads, never
// writes, the payment capability's payments and refunds and the
// reservation capability's prices, zones and cars. It imports neither:
// main converts payment.Movement and payment.BalanceTransaction into this
// package's own types and registers the listeners.
//
// # The journal
//
// An entry is one money event; its lines debit or credit accounts, in fen
// of one currency, and balance: the debits equal the credits per currency.
// The database enforces it — a deferred constraint trigger checks every
// entry when its transaction commits, a memo must have no lines and any
// other entry at least two, lines may only join an entry posted in the same
// transaction, and a trigger refuses UPDATE, DELETE and TRUNCATE: the
// journal is append-only and a correction is a reversing entry. Each entry
// has an identity (source, source_id, source_ref), so a replayed webhook, a
// retried job or a re-run reconciliation finds it and posts nothing.
//
// Entries are written inside the transaction that records the payment
// change (payment.Service.OnStatusChange and OnMoneyMoved call
// PaymentStatusMoved and MoneyMoved), so a payment and its entry commit
// together or not at all.
//
// # Posting rules
//
// X is the money the event moved; for a price of a reservation, Allocate
// splits X among its lines (rental before fees, VAT in proportion; see
// there). The resident receivable is debited and credited within the entry:
// the resident owes the price and pays it by card at once.
//
//	event            when                                  lines
//	authorization    payment authorised (a hold)           memo, no lines: no money moves
//	release          authorisation released                memo
//	payment_failed   authorisation, charge or capture      memo
//	                 declined
//	capture          an authorisation captured (a rental,  Dr resident_receivable X
//	                 or a cancellation or no-show fee)     Cr rental_revenue / fee_revenue.<kind> / vat_payable (Allocate)
//	                                                       Dr stripe_clearing X
//	                                                       Cr resident_receivable X
//	charge           off-session charge succeeded (a       as capture; the reservation's earlier
//	                 difference over the hold, a fee)      captures come first in Allocate
//	refund           refund requested here, or made at     Dr refunds X − v
//	                 Stripe (charge.refunded)              Dr vat_payable v (the payment's VAT share)
//	                                                       Cr stripe_clearing X
//	refund_reversed  Stripe refused or canceled a refund   the refund's lines, sides swapped (reverses it)
//	dispute          charge.dispute.created                Dr disputes X, Cr stripe_clearing X
//	stripe_fee       reconciliation: a transaction's fee   Dr stripe_fees F, Cr stripe_clearing F
//	                 F, or a charge by Stripe itself       (a negative fee: sides swapped)
//	payout           reconciliation: Stripe paid P out     Dr bank P, Cr stripe_clearing P
//	                                                       (a failed or cancelled payout: swapped)
//
// A payment not for a reservation, or whose reservation has no price, is
// rental revenue without VAT. Fee kinds follow the pricing line codes:
// late, low_battery, out_of_zone, cleaning, cancellation, no_show.
//
// # Reconciliation
//
// Reconcile reads Stripe's balance transactions of a period of business
// days (from Stripe's API through payment.Stripe, auto-paginated, or from an
// uploaded balance CSV, see ParseBalanceCSV), copies them into a temporary
// stage and, in a few set-based statements, links each to our payment (by
// charge id, else PaymentIntent) or refund (by Stripe's refund id), books
// the Stripe fees and payouts the ledger lacks, and classifies it against
// the Stripe clearing movement our entries of that payment or refund record:
//
//	matched            found, same currency, amount and fee
//	missing_in_ledger  no payment, refund or entry of ours for it
//	currency_mismatch  found in another currency
//	amount_mismatch    found, another amount
//	fee_mismatch       the booked fee differs, or net ≠ amount − fee
//	missing_in_stripe  one of our movements of the period (a capture or
//	                   charge, a refund net of reversals, a dispute) that no
//	                   transaction of the run matched
//
// A movement near a period boundary may show as missing_in_stripe in one
// period and match in the next; refunds made at Stripe are compared per
// payment. 100,000 transactions against 100,000 payments reconcile in about
// 15 s on two cores (BenchmarkReconcile100k).
//
// # Reports
//
// Revenue (by business day, pickup zone and vehicle model), fees by kind,
// refunds, VAT, outstanding authorisations and failed captures awaiting
// action come as Tables: JSON-ready records with amounts in fen, or CSV
// with a UTF-8 byte order mark (so Excel reads Chinese), amounts in yuan
// with two decimals computed in integers, and times in the business time
// zone, whose days the periods and groupings follow.
package ledger
