package identity

import (
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		password, email string
		ok              bool
	}{
		{"correct-horse-battery", "li@example.cn", true},
		{"长城汽车红旗小镇很好的地方", "li@example.cn", true},
		{"short1", "", false},
		{"1234567890", "", false},
		{"PASSWORD123", "", false}, // common, whatever the case
		{"aaaaaaaaaaaa", "", false},
		{"linamei-2026-x", "linamei@example.cn", false},
		{strings.Repeat("x1", 65), "", false},
	}
	for _, tt := range tests {
		if got := checkPassword(tt.password, tt.email); (got == "") != tt.ok {
			t.Errorf("checkPassword(%q, %q) = %q, want ok=%v", tt.password, tt.email, got, tt.ok)
		}
	}
}

func TestHashAndVerify(t *testing.T) {
	h, err := hashPassword("correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id with the documented parameters", h)
	}
	h2, _ := hashPassword("correct-horse-battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"correct-horse-battery", true}, {"correct-horse-batterY", false}, {"", false}} {
		ok, err := verifyPassword(tt.pw, h)
		if err != nil || ok != tt.want {
			t.Errorf("verify(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
	if _, err := verifyPassword("x", "$2a$10$bcrypt"); err == nil {
		t.Error("a foreign hash was accepted")
	}
}
