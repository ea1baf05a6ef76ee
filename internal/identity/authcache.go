package identity

import (
	"strings"
	"sync"
	"time"
)

// authCacheTTL is how long a checked access token is taken on trust: the
// longest another process's sign-out or role change can go unseen here.
const authCacheTTL = time.Second

// authCache remembers the principal each recently checked access token acts
// for, so that a resident's burst of requests (a search as the map moves,
// say) costs one signature check and one read of the session a second, not
// one each. What this process changes that could alter an answer (a session
// ended, roles replaced) empties it at once.
type authCache struct {
	mu        sync.Mutex
	entries   map[string]authEntry
	lastSweep time.Time
	gen       uint64 // counts forget calls
}

type authEntry struct {
	p     Principal
	until time.Time // the earliest of the cache's limit, the token's and the session's expiry
}

// get returns the principal of a token checked within authCacheTTL, or the
// cache's generation to hand to put after checking it.
func (c *authCache) get(token string, now time.Time) (Principal, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[token]
	if !ok || !now.Before(e.until) {
		return Principal{}, c.gen, false
	}
	return e.p, c.gen, true
}

// put remembers a checked token, unless the cache was emptied since get: the
// check may then have read a session as it was before the change.
func (c *authCache) put(token string, p Principal, gen uint64, now, tokenExp, sessionExp time.Time) {
	until := now.Add(authCacheTTL)
	if tokenExp.Before(until) {
		until = tokenExp
	}
	if sessionExp.Before(until) {
		until = sessionExp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil {
		c.entries = make(map[string]authEntry)
	}
	if now.Sub(c.lastSweep) >= authCacheTTL {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		c.lastSweep = now
	}
	// The key outlives the call: callers may pass a string over a reused
	// buffer (Fiber's request headers are), so keep a copy of its own.
	c.entries[strings.Clone(token)] = authEntry{p: p, until: until}
}

// forget drops every entry, after a change that may end a session or change
// someone's roles.
func (c *authCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.gen++
}
