package ledger

import (
	"math/bits"

	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// PriceLine is one line of a reservation's stored price: a pricing line code
// and its amount.
type PriceLine struct {
	Code   string `json:"code"`
	Amount int64  `json:"amount"`
}

// Split is the part of a received amount that goes to one account.
type Split struct {
	Account string
	Amount  int64
}

// feeKinds maps the pricing core's fee line codes to the fee kinds of the
// fee revenue accounts. Every other line but VAT is rental revenue (time,
// unlock, distance, surcharges).
var feeKinds = map[string]string{
	pricing.CodeLateFee:         "late",
	pricing.CodeLowBatteryFee:   "low_battery",
	pricing.CodeOutOfZoneFee:    "out_of_zone",
	pricing.CodeCleaningFee:     "cleaning",
	pricing.CodeCancellationFee: "cancellation",
	pricing.CodeNoShowFee:       "no_show",
}

// FeeKinds lists the fee kinds, in the order of the chart.
var FeeKinds = []string{"late", "low_battery", "out_of_zone", "cleaning", "cancellation", "no_show"}

// revenueAccount is the account a priced line's revenue goes to.
func revenueAccount(code string) string {
	if kind, ok := feeKinds[code]; ok {
		return AccountFeeRevenuePrefix + kind
	}
	return AccountRentalRevenue
}

// mulDiv returns ⌊a·b/c⌋ for 0 ≤ a, b and 0 ≤ a·b/c < 2⁶³, without overflow.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// Allocate divides amount, received towards a price whose first before fen
// were received already (by earlier captures or charges of the same
// reservation), among the revenue accounts and VAT. It is pure and exact:
// the parts are never negative and sum to amount, and the parts of all the
// payments of one price sum to its lines.
//
// VAT is the cumulative share ⌊received·VAT/total⌋, so each payment carries
// its proportion of the tax. The rest fills the price's other lines in their
// order (time and rental lines before fees, as the pricing core writes
// them), so a hold captured in full and an off-session charge of the rest
// each take the lines their fen paid for. Money beyond the price (or with no
// price at all) is rental revenue without VAT.
func Allocate(lines []PriceLine, before, amount int64) []Split {
	var vat, total int64
	for _, l := range lines {
		if l.Amount <= 0 {
			continue
		}
		if l.Code == pricing.CodeVAT {
			vat += l.Amount
		}
		total += l.Amount
	}
	if total == 0 {
		return []Split{{AccountRentalRevenue, amount}}
	}
	pos := func(n int64) int64 { return min(max(n, 0), total) }
	vatAt := func(n int64) int64 { return mulDiv(pos(n), vat, total) }
	netAt := func(n int64) int64 { return pos(n) - vatAt(n) }

	var out []Split
	add := func(account string, v int64) {
		if v <= 0 {
			return
		}
		for i := range out {
			if out[i].Account == account {
				out[i].Amount += v
				return
			}
		}
		out = append(out, Split{account, v})
	}
	// The net fen [lo, hi) of this payment, laid over the lines in order.
	lo, hi := netAt(before), netAt(before+amount)
	var at int64
	for _, l := range lines {
		if l.Amount <= 0 || l.Code == pricing.CodeVAT {
			continue
		}
		from, to := max(lo, at), min(hi, at+l.Amount)
		add(revenueAccount(l.Code), to-from)
		at += l.Amount
	}
	add(AccountRentalRevenue, amount-(pos(before+amount)-pos(before)))
	add(AccountVATPayable, vatAt(before+amount)-vatAt(before))
	return out
}
