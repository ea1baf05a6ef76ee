package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var stripeMock struct {
	once sync.Once
	url  string
	cmd  *exec.Cmd
	err  error
}

// StripeMockURL returns the address of a stripe-mock for this test binary:
// STRIPE_MOCK_URL when set, else one started on loopback from the version
// pinned in go.mod (`go tool stripe-mock`) and stopped by Stop.
func StripeMockURL(t testing.TB) string {
	t.Helper()
	stripeMock.once.Do(func() {
		if u := os.Getenv("STRIPE_MOCK_URL"); u != "" {
			stripeMock.url = u
			return
		}
		stripeMock.url, stripeMock.cmd, stripeMock.err = startStripeMock()
	})
	if stripeMock.err != nil {
		t.Fatalf("stripe-mock: %v (it is pinned in go.mod: `go tool stripe-mock`; or set STRIPE_MOCK_URL)", stripeMock.err)
	}
	return stripeMock.url
}

func startStripeMock() (string, *exec.Cmd, error) {
	out, err := exec.Command("go", "tool", "-n", "stripe-mock").Output()
	if err != nil {
		return "", nil, fmt.Errorf("build it: %w", err)
	}
	bin := strings.TrimSpace(string(out))
	httpPort, err := freePort()
	if err != nil {
		return "", nil, err
	}
	httpsPort, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin,
		"-http-addr", "127.0.0.1:"+strconv.Itoa(httpPort),
		"-https-addr", "127.0.0.1:"+strconv.Itoa(httpsPort))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// The mock dies with the test binary even if Stop is never reached.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url + "/v1/balance")
		if err == nil {
			res.Body.Close()
			return url, cmd, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", nil, fmt.Errorf("did not answer on %s within 20s; its output: %s", url, logs.String())
}

// Stop ends the stripe-mock this binary started, if any. Call it from TestMain.
func Stop() {
	if stripeMock.cmd != nil && stripeMock.cmd.Process != nil {
		_ = stripeMock.cmd.Process.Kill()
		_ = stripeMock.cmd.Wait()
	}
}

// Main runs the tests of a package and stops what the harness started.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
