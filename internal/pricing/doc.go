// Package pricing is the pure pricing core: given a plan version, a rental
// window, the business time zone and a few facts about the trip, it returns
// an itemized quote in integer fen. It reads no clock and no database and
// imports no other package of the service, so every price can be recomputed
// and tested from its inputs alone.
//
// # Money and rounding
//
// Every amount is int64 fen; rates, multipliers, discounts and VAT are
// integer basis points (10000 = 100 %). No floating point is used anywhere.
// Wherever a division is needed the result is rounded half up to the fen:
// once per line; once per member unit price; and for the night and peak
// surcharges once per 24-hour block, then summed, because the daily cap is
// decided per block. Products that are divided are formed in 128 bits, and
// the limits on plans and inputs (MaxAmount, MaxKm, MaxRental, …) keep every
// other sum and product far inside int64. Every line satisfies
// Amount == Quantity × UnitAmount and Amount ≥ 0, the lines other than VAT
// sum to Subtotal, and Total == Subtotal + VAT.
//
// # Time charge
//
// A window is charged in whole started minutes, split into 24-hour blocks
// counted from its start. Each block is charged the cheapest covering by the
// plan's per-minute, per-hour and per-day rates (a covering may exceed the
// block, e.g. 55 minutes as one hour), night and peak surcharges included in
// the comparison, and then capped by the daily cap, which replaces the whole
// block charge, surcharges included. A rate of 0 means the unit is not
// offered, not that it is free.
//
// Surcharges are derived from the base charge of the covering: each unit
// covers a run of minutes from the block start (the day, or the hours first
// and then the single minutes), and a minute inside the night or a peak
// window costs its unit's per-minute share × (multiplier − 1). For one day
// unit that is PerDay × windowMinutes / 1440 × (multiplier − 10000) / 10000.
// Because a covering's units and their runs do not move when the window
// grows, the time charge is non-decreasing in the window's length, and so is
// the total for a fixed distance within the allowance. The one deliberate
// exception: the included km grow with each started day, so a longer booking
// can save more in km_overage than it adds in time.
//
// Night and peak windows are wall-clock times of the given location: a
// minute is in a window when the instant it starts at is. In a zone with
// daylight saving a wall time stands for the first instant whose clock reads
// it or later (see localClock); the business zone, Asia/Shanghai, has none.
//
// # Membership
//
// The member discount applies to the time charge only (the time rates, the
// daily cap and therefore the surcharges derived from them); unlock fee,
// distance and fees are not discounted. It is folded into the member unit
// prices (each rounded half up), so no negative discount line is ever
// emitted and each time line still reads quantity × unit price; the line's
// description says it is a member price and names the discount.
//
// # VAT
//
// Plan prices are net of VAT. VAT is its own line, half-up rounded on the
// subtotal at the plan's rate; it is present on every quote that has any
// other line, even at 0 %, so receipts always show it.
package pricing
