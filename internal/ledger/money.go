package ledger

import (
	"errors"
	"strconv"
	"strings"
)

// Decimals is the number of minor-unit digits of an ISO 4217 currency as
// Stripe counts them: 2 (CNY: yuan and fen) unless listed here.
func Decimals(currency string) int {
	switch strings.ToUpper(currency) {
	case "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "JOD", "KWD", "OMR", "TND":
		return 3
	}
	return 2
}

var pow10 = [...]int64{1, 10, 100, 1000}

// FormatMinor writes an amount of minor units in major units with the
// currency's decimals, by integer arithmetic: 123456 CNY is "1234.56",
// -5 CNY is "-0.05".
func FormatMinor(amount int64, currency string) string {
	d := Decimals(currency)
	if d == 0 {
		return strconv.FormatInt(amount, 10)
	}
	sign := ""
	u := uint64(amount)
	if amount < 0 {
		sign, u = "-", uint64(-amount) // two's complement: right for math.MinInt64 too
	}
	unit := uint64(pow10[d])
	frac := strconv.FormatUint(u%unit, 10)
	return sign + strconv.FormatUint(u/unit, 10) + "." + strings.Repeat("0", d-len(frac)) + frac
}

var errAmount = errors.New("not an amount")

// ParseMinor reads an amount in major units ("1,234.56", "-0.5", "12") as
// minor units of currency, by integer arithmetic. More decimals than the
// currency has is an error, never a rounding.
func ParseMinor(s, currency string) (int64, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	d := Decimals(currency)
	if whole == "" && frac == "" || len(frac) > d || len(whole) > 15 || !digits(whole) || !digits(frac) {
		return 0, errAmount
	}
	frac += strings.Repeat("0", d-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if whole+frac == "" {
		n, err = 0, nil
	}
	if err != nil {
		return 0, errAmount
	}
	if neg {
		n = -n
	}
	return n, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
