package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
)

// Password is the password of every demo account; it is printed by seed and
// documented in the README. Never seed a production database.
const Password = "hongqi-demo-2026"

// Accounts are the demo accounts, one per role.
var Accounts = []struct {
	Email, Name, Phone string
	Role               identity.Role
}{
	{"resident@hongqi.town", "李娜 (居民)", "+8613800000001", identity.RoleResident},
	{"operator@hongqi.town", "王强 (运营)", "+8613800000002", identity.RoleOperator},
	{"finance@hongqi.town", "陈静 (财务)", "+8613800000003", identity.RoleFinance},
	{"admin@hongqi.town", "管理员", "+8613800000004", identity.RoleAdmin},
}

// Services are what seeding goes through: the same services the API uses.
type Services struct {
	Identity *identity.Service
	Fleet    *fleet.Service
	Plans    *plans.Service
}

// Seed loads what is missing of the demo town and prints what it made.
func Seed(ctx context.Context, s Services, out io.Writer) error {
	users, err := seedAccounts(ctx, s.Identity)
	if err != nil {
		return err
	}
	operator := users[identity.RoleOperator].ID
	zones, err := seedZones(ctx, s.Fleet)
	if err != nil {
		return err
	}
	n, err := seedFleet(ctx, s.Fleet, operator, zones)
	if err != nil {
		return err
	}
	if err := seedPlans(ctx, s.Plans, s.Fleet, operator); err != nil {
		return err
	}
	fmt.Fprintf(out, "Hongqi Town: %d zones, %d models, %d vehicles (%d added now), %d pricing plans\n",
		len(zones), len(models), total(), n, len(demoPlans))
	fmt.Fprintf(out, "demo accounts (password %q):\n", Password)
	for _, a := range Accounts {
		fmt.Fprintf(out, "  %-9s %s\n", a.Role, a.Email)
	}
	return nil
}

func total() int {
	n := 0
	for _, m := range models {
		n += m.count
	}
	return n
}

// seedAccounts makes the missing demo accounts and gives the demo resident an
// approved licence, so a booking can be made at once.
func seedAccounts(ctx context.Context, ident *identity.Service) (map[identity.Role]identity.User, error) {
	users := map[identity.Role]identity.User{}
	for _, a := range Accounts {
		u, err := ident.CreateUser(ctx, identity.NewAccount{
			Email: a.Email, Password: Password, DisplayName: a.Name, Phone: a.Phone,
		}, []identity.Role{a.Role})
		if apperr.HasCode(err, "email_taken") {
			list, _, lerr := ident.ListUsers(ctx, identity.UserFilter{EmailPrefix: a.Email}, page.Request{Limit: 1})
			if lerr != nil || len(list) == 0 {
				return nil, fmt.Errorf("seed %s: %w", a.Email, lerr)
			}
			u, err = list[0], nil
		}
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", a.Email, err)
		}
		users[a.Role] = u
	}
	resident, admin := users[identity.RoleResident], users[identity.RoleAdmin]
	if resident.Licence == nil {
		if _, err := ident.SubmitLicence(ctx, resident.ID, identity.LicenceSubmission{
			Number: "220102199001011234", IssuingRegion: "CN-JL",
			ExpiresOn: time.Now().AddDate(6, 0, 0).Format(time.DateOnly),
		}); err != nil {
			return nil, fmt.Errorf("seed licence: %w", err)
		}
		if _, err := ident.DecideLicence(ctx, identity.Principal{UserID: admin.ID, Roles: admin.Roles},
			resident.ID, identity.LicenceDecision{Approve: true}); err != nil {
			return nil, fmt.Errorf("seed licence decision: %w", err)
		}
	}
	return users, nil
}

func seedZones(ctx context.Context, fl *fleet.Service) (map[string]fleet.Zone, error) {
	existing, err := fl.Zones(ctx)
	if err != nil {
		return nil, err
	}
	zones := map[string]fleet.Zone{}
	for _, z := range existing {
		zones[z.Code] = z
	}
	for _, st := range stations {
		if _, ok := zones[st.code]; ok {
			continue
		}
		r, c := st.radius, st.cap
		z, err := fl.CreateZone(ctx, fleet.Zone{Code: st.code, NameZH: st.zh, NameEN: st.en, Kind: fleet.ZoneStation,
			Center: fleet.Point{Lat: st.lat, Lng: st.lng}, RadiusM: &r, Capacity: &c, BufferMinutes: st.buffer,
			OneWayReturns: true, Active: true})
		if err != nil {
			return nil, fmt.Errorf("seed zone %s: %w", st.code, err)
		}
		zones[z.Code] = z
	}
	a := residentialArea
	if _, ok := zones[a.code]; !ok {
		z, err := fl.CreateZone(ctx, fleet.Zone{Code: a.code, NameZH: a.zh, NameEN: a.en, Kind: fleet.ZoneArea,
			Polygon: [][]fleet.Point{a.ring}, BufferMinutes: 15, OneWayReturns: true, Active: true})
		if err != nil {
			return nil, fmt.Errorf("seed zone %s: %w", a.code, err)
		}
		zones[z.Code] = z
	}
	return zones, nil
}

// seedFleet adds the missing cars, spread over the stations, each with a
// first telemetry reading at its station.
func seedFleet(ctx context.Context, fl *fleet.Service, operator uuid.UUID, zones map[string]fleet.Zone) (int, error) {
	existing, err := fl.Models(ctx)
	if err != nil {
		return 0, err
	}
	byName := map[string]fleet.Model{}
	for _, m := range existing {
		byName[m.Make+" "+m.Model] = m
	}
	added, serial := 0, 0
	for mi, m := range models {
		fm, ok := byName["Hongqi "+m.name]
		if !ok {
			var kwh *float64
			if m.powertrain != fleet.ICE {
				kwh = &m.batteryKWh
			}
			img := fmt.Sprintf("/app/img/models/%s.svg", slug(m.name))
			fm, err = fl.CreateModel(ctx, fleet.Model{Make: "Hongqi", Model: m.name, Powertrain: m.powertrain,
				Seats: m.seats, RangeKm: m.rangeKm, BatteryKWh: kwh, ImageURL: &img})
			if err != nil {
				return added, fmt.Errorf("seed model %s: %w", m.name, err)
			}
		}
		for i := 0; i < m.count; i++ {
			serial++
			st := stations[serial%len(stations)]
			vin := fmt.Sprintf("LFPH4ACP%d%08d", mi+1, serial)
			prefix := "吉A"
			if m.powertrain != fleet.ICE {
				prefix += "D" // new-energy plates
			}
			plate := fmt.Sprintf("%s%05d", prefix, 10000+serial*37)
			v, _, err := fl.CreateVehicle(ctx, operator, fleet.NewVehicle{VIN: vin, Plate: plate, ModelID: fm.ID,
				HomeZoneID: zones[st.code].ID, Features: m.features})
			if apperr.HasCode(err, "vin_taken") {
				continue
			}
			if err != nil {
				return added, fmt.Errorf("seed vehicle %s: %w", vin, err)
			}
			added++
			// A first report: parked and locked at the station, battery 35–99 %.
			battery := 35 + (serial*13)%65
			jitter := float64(serial%5-2) * 0.0002
			if _, err := fl.Ingest(ctx, v.ID, []fleet.Reading{{RecordedAt: time.Now().Add(-time.Minute),
				Position: fleet.Point{Lat: st.lat + jitter, Lng: st.lng - jitter}, BatteryPct: battery,
				OdometerKm: float64(1000 + serial*211%40000), Locked: true}}); err != nil {
				return added, fmt.Errorf("seed telemetry %s: %w", vin, err)
			}
		}
	}
	return added, nil
}

func slug(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			out = append(out, r+'a'-'A')
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			out = append(out, r)
		default:
			out = append(out, '-')
		}
	}
	return string(out)
}
