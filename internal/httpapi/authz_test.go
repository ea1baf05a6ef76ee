package httpapi_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// who may call an operation. Every operation of the spec needs a row; a new
// operation without one fails TestAuthorizationMatrix.
const (
	anon = 1 << iota
	res
	ops
	fin
	adm
	everyone = anon | res | ops | fin | adm
	signedIn = res | ops | fin | adm
	staff    = ops | adm
	// device marks operations that take a car's device token: every user
	// token, whatever its roles, is refused with 401.
	device = 1 << 10
)

var matrix = map[string]int{
	// system
	"getHealth":     everyone,
	"getReadiness":  everyone,
	"getMetrics":    everyone,
	"getOpenAPI":    everyone,
	"getDocs":       everyone,
	"getDocsScript": everyone,
	// the mobile mock (mobile-mock/), public like the docs
	"getApp":           everyone,
	"getAppAsset":      everyone,
	"getAppModelImage": everyone,
	// auth
	"register":      everyone,
	"login":         everyone,
	"refreshTokens": everyone,
	"logout":        signedIn,
	// me
	"getMe":           signedIn,
	"updateMe":        signedIn,
	"getMyLicence":    signedIn,
	"submitMyLicence": signedIn,
	// admin
	"listUsers":     staff,
	"getUser":       staff,
	"setUserRoles":  adm,
	"decideLicence": staff,
	// fleet
	"listZones":               everyone,
	"getZone":                 everyone,
	"createZone":              staff,
	"updateZone":              staff,
	"listVehicleModels":       everyone,
	"getVehicleModel":         everyone,
	"createVehicleModel":      staff,
	"updateVehicleModel":      staff,
	"listVehicles":            staff,
	"createVehicle":           staff,
	"getVehicle":              staff,
	"updateVehicle":           staff,
	"rotateDeviceToken":       staff,
	"getVehicleStatusHistory": staff,
	"getVehicleSchedule":      staff,
	"createBlock":             staff,
	"deleteBlock":             staff,
	"getLiveFleet":            staff,
	"postTelemetry":           device,
	// pricing
	"listPricingPlans":      everyone,
	"getPricingPlan":        everyone,
	"getPricingPlanVersion": everyone,
	"createPricingPlan":     staff,
	"updatePricingPlan":     staff,
	"createQuote":           signedIn,
	// reservations
	"searchAvailability":     signedIn,
	"listReservations":       signedIn,
	"createReservation":      res,
	"getReservation":         signedIn,
	"changeReservation":      res,
	"cancelReservation":      res | staff,
	"startReservation":       res,
	"endReservation":         res | staff,
	"fileConditionReport":    res,
	"listConditionReports":   staff,
	"resolveConditionReport": staff,
	"listFleetAlerts":        staff,
	"getBookingRules":        everyone,
	"setBookingRules":        staff,
	// payments
	"createSetupIntent":       res,
	"listMyPaymentMethods":    res,
	"setDefaultPaymentMethod": res,
	"deletePaymentMethod":     res,
	"listPayments":            signedIn,
	"getPayment":              signedIn,
	"createRefund":            ops | fin | adm,
	"receiveStripeWebhook":    everyone, // no token: the signature is checked (400 without it)
	// finance
	"listLedgerAccounts":                 fin | adm,
	"getAccountBalance":                  fin | adm,
	"getTrialBalance":                    fin | adm,
	"listJournalEntries":                 fin | adm,
	"createReconciliation":               fin | adm,
	"listReconciliations":                fin | adm,
	"getReconciliation":                  fin | adm,
	"listReconciliationItems":            fin | adm,
	"getRevenueReport":                   fin | adm,
	"getFeesReport":                      fin | adm,
	"getRefundsReport":                   fin | adm,
	"getVatReport":                       fin | adm,
	"getOutstandingAuthorizationsReport": fin | adm,
	"getFailedCapturesReport":            fin | adm,
}

var principals = []struct {
	name string
	bit  int
	role identity.Role
}{
	{"anonymous", anon, ""},
	{"resident", res, identity.RoleResident},
	{"operator", ops, identity.RoleOperator},
	{"finance", fin, identity.RoleFinance},
	{"admin", adm, identity.RoleAdmin},
}

// TestAuthorizationMatrix calls every operation of the spec as anonymous,
// resident, operator, finance and admin, and checks each is let through or
// refused (401 for anonymous, 403 for a signed-in user) as the matrix says.
func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t, nil)
	tokens := map[string]string{}
	ids := map[string]string{}
	for _, p := range principals[1:] {
		s := h.account(t, p.name+"@example.cn", p.role)
		tokens[p.name], ids[p.name] = s.AccessToken, s.UserID
	}

	type op struct{ id, method, path string }
	var all []op
	for path, item := range testenv.Spec(t).Paths.Map() {
		for method, o := range item.Operations() {
			all = append(all, op{o.OperationID, method, path})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })

	checked := 0
	for _, o := range all {
		allowed, ok := matrix[o.id]
		if !ok {
			t.Errorf("operation %s (%s %s) has no row in the authorization matrix", o.id, o.method, o.path)
			continue
		}
		for _, p := range principals {
			t.Run(o.id+"/"+p.name, func(t *testing.T) {
				token := tokens[p.name]
				if o.id == "logout" && token != "" {
					// Signing out ends the session; use one of its own.
					token = h.login(t, p.name+"@example.cn", testPassword).AccessToken
				}
				path := strings.NewReplacer("{id}", ids["resident"], "{block_id}", ids["resident"], "{version}", "1").Replace(o.path)
				var body any
				if o.method != http.MethodGet && o.method != http.MethodDelete {
					body = map[string]any{}
				}
				// The empty body may break the contract; only the answer is checked.
				res := h.cl.As(token).Unchecked().Do(o.method, path, body)
				switch {
				case allowed == device:
					if res.Status != 401 {
						t.Errorf("%s %s %s with a user token: %d, want 401", p.name, o.method, path, res.Status)
					}
				case allowed&p.bit != 0 && (res.Status == 401 || res.Status == 403):
					t.Errorf("%s refused %s %s: %d %s", p.name, o.method, path, res.Status, res.Body)
				case allowed&p.bit == 0 && p.bit == anon && res.Status != 401:
					t.Errorf("anonymous %s %s: %d, want 401", o.method, path, res.Status)
				case allowed&p.bit == 0 && p.bit != anon && res.Status != 403:
					t.Errorf("%s %s %s: %d, want 403", p.name, o.method, path, res.Status)
				}
			})
			checked++
		}
	}
	for id := range matrix {
		found := false
		for _, o := range all {
			found = found || o.id == id
		}
		if !found {
			t.Errorf("matrix row %s names no operation of the spec", id)
		}
	}
	t.Logf("authorization matrix: %d operations × %d principals = %d calls", len(all), len(principals), checked)
	if checked != len(all)*len(principals) {
		t.Errorf("checked %d calls", checked)
	}
}
