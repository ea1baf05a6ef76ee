package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/identity"
)

// roleFlags collects repeated --role flags (or comma-separated lists).
type roleFlags []identity.Role

func (r *roleFlags) String() string { return fmt.Sprint(*r) }

func (r *roleFlags) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		role, ok := identity.ParseRole(strings.TrimSpace(name))
		if !ok {
			return fmt.Errorf("unknown role %q: want resident, operator, finance or admin", name)
		}
		*r = append(*r, role)
	}
	return nil
}

func cmdUsers(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"users wants: create --email E --role R --password-stdin"}
	}
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the account's email")
	name := fs.String("name", "", "display name (default: the part of the email before @)")
	phone := fs.String("phone", "+8600000000000", "phone number, E.164")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	var roles roleFlags
	fs.Var(&roles, "role", "a role to grant (repeatable): resident, operator, finance, admin")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if *email == "" || len(roles) == 0 || !*fromStdin {
		return usageError{"users create needs --email, at least one --role, and --password-stdin"}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}

	e, err := setup(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	if err := migrateUp(ctx, e); err != nil {
		return err
	}
	u, err := newIdentity(e).CreateUser(ctx, identity.NewAccount{
		Email: *email, Password: password, DisplayName: *name, Phone: *phone,
	}, roles)
	if ae, ok := apperr.As(err); ok {
		msg := ae.Detail
		for _, f := range ae.Fields {
			msg += fmt.Sprintf("; %s %s", f.Field, f.Reason)
		}
		return errors.New(msg)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s (%s) with roles %v\n", u.Email, u.ID, u.Roles)
	return nil
}
