package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hongqi-mobility/mobility/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"fly"}, getenvFrom(nil), nil, &out, &out)
	if _, ok := err.(usageError); !ok {
		t.Fatalf("err %v, want a usage error", err)
	}
}

func TestBadConfigurationStopsWithTheVariableNamed(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve"}, getenvFrom(map[string]string{"PORT": "http"}), nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Fatalf("err %v, want PORT named", err)
	}
}

func TestMigrateCommands(t *testing.T) {
	ctx := context.Background()
	env := getenvFrom(map[string]string{"DATABASE_URL": testenv.DatabaseURL(t), "LOG_LEVEL": "error"})
	var out bytes.Buffer
	for _, args := range [][]string{{"migrate", "status"}, {"migrate", "down"}, {"migrate", "status"}, {"migrate", "up"}} {
		out.Reset()
		if err := run(ctx, args, env, nil, &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		t.Logf("%v:\n%s", args, out.String())
		switch strings.Join(args, " ") {
		case "migrate down":
			if !strings.Contains(out.String(), "rolled back migration") {
				t.Errorf("down printed %q", out.String())
			}
		case "migrate up":
			if !strings.Contains(out.String(), "applied 1 migration") {
				t.Errorf("up after one down printed %q", out.String())
			}
		}
	}
	if err := run(ctx, []string{"migrate", "sideways"}, env, nil, &out, &out); err == nil {
		t.Error("migrate sideways accepted")
	}
}

// TestSIGTERMFinishesInFlightRequests runs the real binary, starts a request
// that is still arriving when SIGTERM lands, and expects the request to be
// answered and the process to exit 0.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mobility")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+testenv.DatabaseURL(t),
		fmt.Sprintf("PORT=%d", port),
		"STRIPE_SECRET_KEY=", "LOG_LEVEL=warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitReady(t, base+"/readyz", &logs)

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a request: the server is now busy with it.
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: localhost\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := conn.Write([]byte("X-Late: yes\r\n\r\n")); err != nil {
		t.Fatalf("finish the request after SIGTERM: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request got no answer: %v\nlogs: %s", err, logs.String())
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("in-flight request answered %d", res.StatusCode)
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\nlogs: %s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after SIGTERM\nlogs: %s", logs.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still answering after exit")
	}
}

func waitReady(t *testing.T, url string, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready in 30 s; logs:\n%s", url, logs.String())
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestUsersCreateAndSeed(t *testing.T) {
	ctx := context.Background()
	env := getenvFrom(map[string]string{"DATABASE_URL": testenv.DatabaseURL(t), "LOG_LEVEL": "error"})
	var out bytes.Buffer
	args := []string{"users", "create", "--email", "Boss@Hongqi.Town", "--role", "admin", "--role", "operator", "--password-stdin"}
	if err := run(ctx, args, env, strings.NewReader("a-long-admin-passphrase\n"), &out, &out); err != nil {
		t.Fatalf("users create: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "boss@hongqi.town") || !strings.Contains(out.String(), "[admin operator]") {
		t.Errorf("users create printed %q", out.String())
	}
	out.Reset()
	err := run(ctx, args, env, strings.NewReader("a-long-admin-passphrase\n"), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second create: %v", err)
	}
	err = run(ctx, []string{"users", "create", "--email", "weak@hongqi.town", "--role", "admin", "--password-stdin"}, env, strings.NewReader("short\n"), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("weak password: %v", err)
	}
	if err := run(ctx, []string{"users", "create", "--email", "x@hongqi.town", "--role", "pilot", "--password-stdin"}, env, nil, &out, &out); err == nil {
		t.Error("unknown role accepted")
	}

	for i := 0; i < 2; i++ { // idempotent
		out.Reset()
		if err := run(ctx, []string{"seed"}, env, nil, &out, &out); err != nil {
			t.Fatalf("seed #%d: %v\n%s", i+1, err, out.String())
		}
	}
	if !strings.Contains(out.String(), "resident@hongqi.town") {
		t.Errorf("seed printed %q", out.String())
	}
}

// TestLoadtestRunsEveryPhase runs the load tool on a small town for a
// second a phase: every phase, the API's and pgbench's, must do work
// without errors, so the tool keeps up with the schema and the API.
func TestLoadtestRunsEveryPhase(t *testing.T) {
	if _, err := exec.LookPath("pgbench"); err != nil {
		t.Fatalf("pgbench is needed (Debian's postgresql package ships it): %v", err)
	}
	bin, err := exec.Command("go", "tool", "-n", "stripe-mock").Output()
	if err != nil {
		t.Fatalf("stripe-mock: %v", err)
	}
	ctx := context.Background()
	name := fmt.Sprintf("mobility_load_test_%d", time.Now().UnixNano())
	server := testenv.DatabaseURL(t)
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", server)
		if err == nil {
			_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
			admin.Close()
		}
	})
	var out, errs bytes.Buffer
	args := []string{"loadtest", "--vehicles", "100", "--reservations", "400", "--duration", "1s", "--db", name,
		"--stripe-mock", strings.TrimSpace(string(bin))}
	if err := run(ctx, args, getenvFrom(map[string]string{"DATABASE_URL": server}), nil, &out, &errs); err != nil {
		t.Fatalf("loadtest: %v\n%s\n%s", err, out.String(), errs.String())
	}
	t.Log(out.String())
	for _, phase := range []string{"search via the API", "search, bare SQL (pgbench)", "bookings via the API",
		"occupancy insert, bare SQL (pgbench)", "a booking's rows, bare SQL (pgbench)"} {
		var line string
		for l := range strings.Lines(out.String()) {
			if strings.HasPrefix(l, phase+" ") {
				line = l
			}
		}
		f := strings.Fields(strings.TrimPrefix(line, phase))
		if len(f) != 5 || f[2] == "0.0" || f[4] != "0" {
			t.Errorf("phase %q: %q, want work done and no errors", phase, line)
		}
	}
}
