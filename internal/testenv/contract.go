package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/hongqi-mobility/mobility/openapi"
)

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// Spec returns the service's OpenAPI document, loaded and validated once.
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	loadSpec()
	if spec.err != nil {
		t.Fatalf("openapi.yaml: %v", spec.err)
	}
	return spec.doc
}

func loadSpec() {
	spec.once.Do(func() {
		for _, ct := range []string{"application/yaml", "text/html", "text/javascript", "text/csv"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(openapi.Spec)
		if err != nil {
			spec.err = fmt.Errorf("load: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			spec.err = fmt.Errorf("validate: %w", err)
			return
		}
		// Route by path alone: the tests' host is not the spec's server.
		doc.Servers = nil
		spec.doc = doc
		spec.router, spec.err = legacy.NewRouter(doc)
	})
}

// Transport sends a request to the service under test and returns its
// response; for the Fiber app it is a wrapper of app.Test.
type Transport func(*http.Request) (*http.Response, error)

// Client makes HTTP calls to the service and fails the test when a request
// or a response does not match the OpenAPI contract.
type Client struct {
	t         testing.TB
	send      Transport
	Token     string
	headers   map[string]string
	unchecked bool // skip request validation: for deliberately bad requests
}

// NewClient returns a contract-checking client over send.
func NewClient(t testing.TB, send Transport) *Client {
	t.Helper()
	Spec(t)
	return &Client{t: t, send: send}
}

// As returns a copy of c that sends token as its bearer credential.
func (c *Client) As(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

// With returns a copy of c that adds header k: v to its requests.
func (c *Client) With(k, v string) *Client {
	cp := *c
	cp.headers = map[string]string{}
	for hk, hv := range c.headers {
		cp.headers[hk] = hv
	}
	cp.headers[k] = v
	return &cp
}

// Unchecked returns a copy of c that does not validate its requests, for
// tests that send what the contract forbids; responses are still checked.
func (c *Client) Unchecked() *Client {
	cp := *c
	cp.unchecked = true
	return &cp
}

// Response is a response read in full.
type Response struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

// Get sends a GET.
func (c *Client) Get(path string) *Response { return c.Do(http.MethodGet, path, nil) }

// Post sends body as JSON.
func (c *Client) Post(path string, body any) *Response { return c.Do(http.MethodPost, path, body) }

// Put sends body as JSON.
func (c *Client) Put(path string, body any) *Response { return c.Do(http.MethodPut, path, body) }

// Patch sends body as JSON.
func (c *Client) Patch(path string, body any) *Response { return c.Do(http.MethodPatch, path, body) }

// Delete sends a DELETE.
func (c *Client) Delete(path string) *Response { return c.Do(http.MethodDelete, path, nil) }

// Do sends body (nil, []byte sent as is, or a value encoded as JSON) and
// checks request and response against the contract.
func (c *Client) Do(method, path string, body any) *Response {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			c.t.Fatalf("encode request body: %v", err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	return c.Send(req)
}

// Send sends req as built by the caller and checks it against the contract.
func (c *Client) Send(req *http.Request) *Response {
	c.t.Helper()
	var raw []byte
	if req.Body != nil {
		raw, _ = io.ReadAll(req.Body)
	}
	ctx := context.Background()
	route, params, routeErr := spec.router.FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	if routeErr == nil {
		in = &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{
				AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
				IncludeResponseStatus: true,
				MultiError:            true,
			},
		}
		if !c.unchecked {
			req.Body = io.NopCloser(bytes.NewReader(raw))
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				c.t.Errorf("contract: request %s %s does not match the spec: %v", req.Method, req.URL.Path, err)
			}
		}
	} else if !c.unchecked {
		c.t.Errorf("contract: %s %s is not an operation of the spec: %v", req.Method, req.URL.Path, routeErr)
	}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	req.ContentLength = int64(len(raw))

	res, err := c.send(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read response: %v", req.Method, req.URL.Path, err)
	}
	out := &Response{t: c.t, Status: res.StatusCode, Header: res.Header, Body: body}

	if in != nil {
		rin := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 res.StatusCode,
			Header:                 res.Header,
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options:                in.Options,
		}
		if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
			c.t.Errorf("contract: response %d to %s %s does not match the spec: %v\nbody: %s",
				res.StatusCode, req.Method, req.URL.Path, err, truncate(body))
		}
	}
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			c.t.Errorf("%s %s: error %d answered as %q, want application/problem+json", req.Method, req.URL.Path, res.StatusCode, ct)
		}
	}
	if res.StatusCode >= 500 {
		c.t.Errorf("%s %s: server error %d: %s", req.Method, req.URL.Path, res.StatusCode, truncate(body))
	}
	return out
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// Expect fails the test unless the status is want, showing the body.
func (r *Response) Expect(want int) *Response {
	r.t.Helper()
	if r.Status != want {
		r.t.Fatalf("status %d, want %d; body: %s", r.Status, want, truncate(r.Body))
	}
	return r
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", truncate(r.Body), err)
	}
}

// Map decodes the body into a generic object.
func (r *Response) Map() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.JSON(&m)
	return m
}

// Problem is the decoded problem document of an error response.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// Problem expects an error with status and code and returns its document.
func (r *Response) Problem(status int, code string) Problem {
	r.t.Helper()
	r.Expect(status)
	var p Problem
	r.JSON(&p)
	if p.Code != code {
		r.t.Fatalf("problem code %q, want %q; body: %s", p.Code, code, truncate(r.Body))
	}
	if p.Detail == "" || p.Status != status {
		r.t.Fatalf("problem without detail or with status %d: %s", p.Status, truncate(r.Body))
	}
	return p
}

// HasField reports whether the problem names field in errors[].
func (p Problem) HasField(field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}
