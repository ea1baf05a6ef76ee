package pricing

import "strconv"

// Line codes: stable identifiers for receipts, the ledger and clients. A
// code never changes meaning; new charges get new codes.
const (
	CodeUnlockFee       = "unlock_fee"
	CodeTimeDays        = "time_days"
	CodeTimeHours       = "time_hours"
	CodeTimeMinutes     = "time_minutes"
	CodeTimeDailyCap    = "time_daily_cap"
	CodeNightSurcharge  = "night_surcharge"
	CodePeakSurcharge   = "peak_surcharge"
	CodeKmOverage       = "km_overage"
	CodeLateFee         = "late_fee"
	CodeLowBatteryFee   = "low_battery_fee"
	CodeOutOfZoneFee    = "out_of_zone_fee"
	CodeCleaningFee     = "cleaning_fee"
	CodeCancellationFee = "cancellation_fee"
	CodeNoShowFee       = "no_show_fee"
	CodeVAT             = "vat"
)

// Units of a line's Quantity.
const (
	UnitFee       = "fee"    // a single charge: Quantity 1, UnitAmount = Amount
	UnitMinute    = "minute" // a started minute
	UnitHour      = "hour"
	UnitDay       = "day"   // a day unit, or a capped 24-hour block
	UnitKm        = "km"    // a kilometre beyond the included distance
	UnitQuarterHr = "15min" // a started 15 minutes of lateness
)

// Line is one item of a quote. Every line has Amount == Quantity × UnitAmount
// and Amount ≥ 0; shares (surcharges, VAT, a percentage fee) are single
// charges of Quantity 1, their basis stated in the descriptions.
type Line struct {
	Code          string
	DescriptionZH string
	DescriptionEN string
	Quantity      int64
	Unit          string
	UnitAmount    int64
	Amount        int64
}

// Quote is a priced, itemized charge: a booking quote, a final price, a
// cancellation or a no-show. Lines other than VAT sum to Subtotal and
// Total = Subtotal + VAT. Minutes and IncludedKm are the charged minutes and
// the distance allowance, 0 where they do not apply.
type Quote struct {
	PlanID      string
	PlanVersion int
	Currency    string
	Lines       []Line
	Subtotal    int64
	VAT         int64
	Total       int64
	Minutes     int64
	IncludedKm  int64
}

// TimeCharge is the part of the quote paid for time: the time lines and the
// night and peak surcharges (the part the daily cap bounds).
func (q *Quote) TimeCharge() int64 {
	var t int64
	for _, l := range q.Lines {
		if IsTimeCode(l.Code) {
			t += l.Amount
		}
	}
	return t
}

// IsTimeCode reports whether code is a line of the time charge.
func IsTimeCode(code string) bool {
	switch code {
	case CodeTimeDays, CodeTimeHours, CodeTimeMinutes, CodeTimeDailyCap, CodeNightSurcharge, CodePeakSurcharge:
		return true
	}
	return false
}

// maxLines is the most lines a quote can have (a final price with every fee).
const maxLines = 16

// builder gathers a quote's lines on the stack and copies them out once, so
// a quote costs a single allocation for its lines plus its descriptions.
type builder struct {
	lines [maxLines]Line
	n     int
}

// add appends a quantity × unit line; zero-amount lines are left out, as a
// receipt full of zeroes helps nobody.
func (b *builder) add(code, zh, en string, qty int64, unit string, unitAmount int64) {
	if qty <= 0 || unitAmount <= 0 {
		return
	}
	b.lines[b.n] = Line{Code: code, DescriptionZH: zh, DescriptionEN: en,
		Quantity: qty, Unit: unit, UnitAmount: unitAmount, Amount: qty * unitAmount}
	b.n++
}

// fee appends a single charge.
func (b *builder) fee(code, zh, en string, amount int64) {
	b.add(code, zh, en, 1, UnitFee, amount)
}

// quote totals the lines and adds VAT, rounded half up on the subtotal; the
// VAT line is present whenever any other line is, even at a 0 % rate.
func (b *builder) quote(p *Plan) Quote {
	q := Quote{PlanID: p.ID, PlanVersion: p.Version, Currency: p.Currency}
	for _, l := range b.lines[:b.n] {
		q.Subtotal += l.Amount
	}
	q.VAT = mulDivRound(q.Subtotal, p.VATRateBP, BasisPoints)
	q.Total = q.Subtotal + q.VAT
	if b.n == 0 {
		q.Lines = []Line{}
		return q
	}
	zh, en := vatText(p.VATRateBP)
	b.lines[b.n] = Line{Code: CodeVAT, DescriptionZH: zh, DescriptionEN: en,
		Quantity: 1, Unit: UnitFee, UnitAmount: q.VAT, Amount: q.VAT}
	b.n++
	q.Lines = make([]Line, b.n)
	copy(q.Lines, b.lines[:b.n])
	return q
}

// addTime appends the time lines and surcharges of tc at the prices r.
func (b *builder) addTime(p *Plan, r *rates, tc *timeCharge) {
	b.addRate(CodeTimeDays, "按天计费", "Day rate", tc.days, UnitDay, r.day, r.memberBP)
	b.addRate(CodeTimeHours, "按小时计费", "Hourly rate", tc.hours, UnitHour, r.hour, r.memberBP)
	b.addRate(CodeTimeMinutes, "按分钟计费", "Per-minute rate", tc.minutes, UnitMinute, r.minute, r.memberBP)
	b.addRate(CodeTimeDailyCap, "每24小时封顶价，含加价", "Daily cap per 24 h, surcharges included", tc.capped, UnitDay, r.cap, r.memberBP)
	if tc.night > 0 {
		zh, en := surchargeText("夜间加价", "Night surcharge", p.NightStart, p.NightEnd, p.NightMultiplierBP, tc.nightMinutes)
		b.fee(CodeNightSurcharge, zh, en, tc.night)
	}
	if tc.peak > 0 {
		zh, en := surchargeText("高峰加价", "Peak surcharge", -1, -1, p.PeakMultiplierBP, tc.peakMinutes)
		b.fee(CodePeakSurcharge, zh, en, tc.peak)
	}
}

// addRate appends a time line, formatting a member description only for a
// line that is actually emitted.
func (b *builder) addRate(code, zh, en string, qty int64, unit string, price, memberBP int64) {
	if qty <= 0 || price <= 0 {
		return
	}
	zh, en = memberText(zh, en, memberBP)
	b.add(code, zh, en, qty, unit, price)
}

// memberText marks a time line as priced at the member rate; list-price
// lines keep their constant descriptions and cost no allocation.
func memberText(zh, en string, discountBP int64) (string, string) {
	if discountBP == 0 {
		return zh, en
	}
	var bz, be [128]byte
	z := appendPct(append(append(bz[:0], zh...), "（会员价，优惠"...), discountBP)
	e := appendPct(append(append(be[:0], en...), " (member price, "...), discountBP)
	return string(append(z, "）"...)), string(append(e, " off)"...))
}

// surchargeText describes a surcharge with its window (when it has one), its
// multiplier and the minutes it covers, so the line can be checked by hand.
func surchargeText(zh, en string, from, to int, multBP, minutes int64) (string, string) {
	var bz, be [128]byte
	z := append(append(bz[:0], zh...), "（"...)
	e := append(append(be[:0], en...), " ("...)
	if from >= 0 {
		z = append(appendWindow(z, from, to), "，"...)
		e = append(appendWindow(e, from, to), ", "...)
	}
	z = strconv.AppendInt(append(appendMultiplier(z, multBP), "，"...), minutes, 10)
	e = strconv.AppendInt(append(appendMultiplier(e, multBP), ", "...), minutes, 10)
	return string(append(z, "分钟）"...)), string(append(e, " min)"...))
}

func vatText(rateBP int64) (string, string) {
	var bz, be [32]byte
	z := appendPct(append(bz[:0], "增值税 "...), rateBP)
	e := appendPct(append(be[:0], "VAT "...), rateBP)
	return string(z), string(e)
}

// appendPct renders basis points as a percentage ("13%", "12.5%").
func appendPct(dst []byte, bp int64) []byte {
	return append(appendDecimal(dst, bp, 100), '%')
}

// appendMultiplier renders basis points as a factor ("×1.5").
func appendMultiplier(dst []byte, bp int64) []byte {
	return appendDecimal(append(dst, "×"...), bp, BasisPoints)
}

// appendDecimal appends v / scale with trailing zeroes trimmed.
func appendDecimal(dst []byte, v, scale int64) []byte {
	dst = strconv.AppendInt(dst, v/scale, 10)
	frac := v % scale
	if frac == 0 {
		return dst
	}
	dst = append(dst, '.')
	for s := scale / 10; frac > 0 && s > 0; s /= 10 {
		dst = append(dst, byte('0'+frac/s))
		frac %= s
	}
	return dst
}

// appendWindow appends a local-time window of minutes of day as "22:00–06:00".
func appendWindow(dst []byte, from, to int) []byte {
	return appendClock(append(appendClock(dst, from), "–"...), to)
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

func appendClock(dst []byte, mod int) []byte {
	return append(dst, byte('0'+mod/600), byte('0'+mod/60%10), ':', byte('0'+mod%60/10), byte('0'+mod%10))
}
