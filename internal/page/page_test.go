package page

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{At: time.Date(2026, 11, 29, 12, 0, 0, 123456000, time.UTC), ID: uuid.New()}
	r, err := Parse("10", c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if r.Limit != 10 || r.After == nil || !r.After.At.Equal(c.At) || r.After.ID != c.ID {
		t.Errorf("got %+v, want limit 10 after %+v", r, c)
	}
}

func TestParseRejectsBadValues(t *testing.T) {
	for _, tt := range []struct{ limit, cursor string }{
		{"0", ""}, {"201", ""}, {"ten", ""}, {"", "!!"}, {"", "bm90LWEtY3Vyc29y"},
	} {
		if _, err := Parse(tt.limit, tt.cursor); err == nil {
			t.Errorf("Parse(%q, %q) accepted", tt.limit, tt.cursor)
		}
	}
}

func TestNextOnlyForFullPages(t *testing.T) {
	pos := func(n int) (time.Time, uuid.UUID) { return time.Unix(int64(n), 0), uuid.Nil }
	if Next([]int{1, 2}, 3, pos) != nil {
		t.Error("short page has a next cursor")
	}
	if Next([]int{1, 2, 3}, 3, pos) == nil {
		t.Error("full page has no next cursor")
	}
}

func TestBounds(t *testing.T) {
	if at, id := (Request{Limit: 5}).Bounds(); at != nil || id != uuid.Nil {
		t.Errorf("first page bounds %v %v", at, id)
	}
	c := Cursor{At: time.Unix(100, 0).UTC(), ID: uuid.New()}
	at, id := Request{Limit: 5, After: &c}.Bounds()
	if at == nil || !at.Equal(c.At) || id != c.ID {
		t.Errorf("bounds %v %v, want %v %v", at, id, c.At, c.ID)
	}
}
