package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// demoPassword is the password of every demo account; it is printed by seed
// and documented in the README. Never seed a production database.
const demoPassword = "hongqi-demo-2026"

// demoAccounts are one account per role.
var demoAccounts = []struct {
	email, name, phone string
	role               identity.Role
}{
	{"resident@hongqi.town", "李娜 (居民)", "+8613800000001", identity.RoleResident},
	{"operator@hongqi.town", "王强 (运营)", "+8613800000002", identity.RoleOperator},
	{"finance@hongqi.town", "陈静 (财务)", "+8613800000003", identity.RoleFinance},
	{"admin@hongqi.town", "管理员", "+8613800000004", identity.RoleAdmin},
}

func cmdSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 0 {
		return usageError{"seed takes no arguments"}
	}
	e, err := setup(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	if err := migrateUp(ctx, e); err != nil {
		return err
	}
	return seedAccounts(ctx, newIdentity(e), stdout)
}

// seedAccounts makes the demo accounts that are missing and gives the demo
// resident an approved licence, so a booking can be made at once.
func seedAccounts(ctx context.Context, ident *identity.Service, stdout io.Writer) error {
	users := map[identity.Role]identity.User{}
	for _, a := range demoAccounts {
		u, err := ident.CreateUser(ctx, identity.NewAccount{
			Email: a.email, Password: demoPassword, DisplayName: a.name, Phone: a.phone,
		}, []identity.Role{a.role})
		if apperr.HasCode(err, "email_taken") {
			list, _, lerr := ident.ListUsers(ctx, identity.UserFilter{EmailPrefix: a.email}, pageOf(1))
			if lerr != nil || len(list) == 0 {
				return fmt.Errorf("seed %s: %w", a.email, lerr)
			}
			u, err = list[0], nil
		}
		if err != nil {
			return fmt.Errorf("seed %s: %w", a.email, err)
		}
		users[a.role] = u
	}
	resident, admin := users[identity.RoleResident], users[identity.RoleAdmin]
	if resident.Licence == nil {
		if _, err := ident.SubmitLicence(ctx, resident.ID, identity.LicenceSubmission{
			Number: "220102199001011234", IssuingRegion: "CN-JL",
			ExpiresOn: time.Now().AddDate(6, 0, 0).Format(time.DateOnly),
		}); err != nil {
			return fmt.Errorf("seed licence: %w", err)
		}
		if _, err := ident.DecideLicence(ctx, identity.Principal{UserID: admin.ID, Roles: admin.Roles},
			resident.ID, identity.LicenceDecision{Approve: true}); err != nil {
			return fmt.Errorf("seed licence decision: %w", err)
		}
	}
	fmt.Fprintf(stdout, "demo accounts (password %q):\n", demoPassword)
	for _, a := range demoAccounts {
		fmt.Fprintf(stdout, "  %-9s %s\n", a.role, a.email)
	}
	return nil
}

func pageOf(n int) page.Request { return page.Request{Limit: n} }
