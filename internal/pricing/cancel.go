package pricing

import "time"

// MaxQuoteAmount bounds the booking subtotal a cancellation percentage is
// taken of, far above any real booking.
const MaxQuoteAmount = 1_000_000_000_000_000

// CancelInput is what a cancellation charge depends on besides the plan.
type CancelInput struct {
	Start       time.Time // the booked start
	CancelledAt time.Time
	// QuoteSubtotal is the booking's quote before VAT. The percentage is
	// taken of the net amount and VAT is added on the fee like on any other
	// quote, so the fee is never taxed twice.
	QuoteSubtotal int64
	ByOperator    bool
}

// CancellationCharge prices a cancellation: nothing when an operator cancels
// or when the resident cancels CancelFreeHours or more before the start
// (with 0 free hours: at any time before the start); otherwise CancelFee, or,
// when the plan has no fixed fee, CancelPctBP of the booking's net subtotal,
// rounded half up, plus VAT. A free cancellation is a quote with no lines and
// a zero total.
func CancellationCharge(p Plan, in CancelInput) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, err
	}
	pr := problems{subject: "cancellation input"}
	if in.Start.IsZero() {
		pr.add("start", "is required")
	}
	if in.CancelledAt.IsZero() {
		pr.add("cancelled_at", "is required")
	}
	checkRange(&pr, "quote_subtotal", in.QuoteSubtotal, 0, MaxQuoteAmount)
	if err := pr.err(); err != nil {
		return Quote{}, err
	}
	var b builder
	lead := in.Start.Round(0).Sub(in.CancelledAt.Round(0))
	if in.ByOperator || lead >= time.Duration(p.CancelFreeHours)*time.Hour {
		return b.quote(&p), nil
	}
	if p.CancelFee > 0 {
		b.fee(CodeCancellationFee, "取消费", "Cancellation fee", p.CancelFee)
		return b.quote(&p), nil
	}
	var bz, be [96]byte
	z := append(appendPct(append(bz[:0], "取消费（订单税前金额的"...), p.CancelPctBP), "）"...)
	e := append(appendPct(append(be[:0], "Cancellation fee ("...), p.CancelPctBP), " of the booking before VAT)"...)
	b.fee(CodeCancellationFee, string(z), string(e), mulDivRound(in.QuoteSubtotal, p.CancelPctBP, BasisPoints))
	return b.quote(&p), nil
}

// NoShowCharge prices a booking that was never unlocked by start + grace:
// the plan's no-show fee plus VAT. The error is the plan's validation error.
func NoShowCharge(p Plan) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, err
	}
	var b builder
	b.fee(CodeNoShowFee, "未取车费", "No-show fee", p.NoShowFee)
	return b.quote(&p), nil
}
