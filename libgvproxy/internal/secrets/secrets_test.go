package secrets

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"bun-gvproxy/libgvproxy/internal/errs"
)

func mustSet(t *testing.T, list ...Secret) *Set {
	t.Helper()
	valid, err := Validate("secrets", list)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(valid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	openai = Secret{Placeholder: "GVP_OPENAI", Value: "sk-real-openai-0123456789", Hosts: []string{"api.openai.com"}}
	github = Secret{Placeholder: "GVP_GITHUB", Value: "ghp_real_github_abcdef", Hosts: []string{"*.github.com", "GitHub.com."}}
)

func TestValidateRefusesBadInput(t *testing.T) {
	cases := []struct {
		name  string
		list  []Secret
		field string
	}{
		{"empty placeholder", []Secret{{Placeholder: "", Value: "v", Hosts: []string{"a.com"}}}, "secrets[0].placeholder"},
		{"placeholder with space", []Secret{{Placeholder: "A B", Value: "v", Hosts: []string{"a.com"}}}, "secrets[0].placeholder"},
		{"duplicate placeholder", []Secret{openai, {Placeholder: "GVP_OPENAI", Value: "x", Hosts: []string{"b.com"}}}, "secrets[1].placeholder"},
		{"substring of an earlier one", []Secret{openai, {Placeholder: "GVP_OPEN", Value: "x", Hosts: []string{"b.com"}}}, "secrets[1].placeholder"},
		{"contains an earlier one", []Secret{openai, {Placeholder: "XGVP_OPENAIX", Value: "x", Hosts: []string{"b.com"}}}, "secrets[1].placeholder"},
		{"empty value", []Secret{{Placeholder: "P", Value: "", Hosts: []string{"a.com"}}}, "secrets[0].value"},
		{"value with LF", []Secret{{Placeholder: "P", Value: "a\nb", Hosts: []string{"a.com"}}}, "secrets[0].value"},
		{"value with CR", []Secret{{Placeholder: "P", Value: "a\rb", Hosts: []string{"a.com"}}}, "secrets[0].value"},
		{"no hosts", []Secret{{Placeholder: "P", Value: "v"}}, "secrets[0].hosts"},
		{"IP host", []Secret{{Placeholder: "P", Value: "v", Hosts: []string{"a.com", "10.0.0.1"}}}, "secrets[0].hosts[1]"},
		{"host with port", []Secret{{Placeholder: "P", Value: "v", Hosts: []string{"a.com:443"}}}, "secrets[0].hosts[0]"},
		{"host with path", []Secret{{Placeholder: "P", Value: "v", Hosts: []string{"https://a.com/"}}}, "secrets[0].hosts[0]"},
		{"inner wildcard", []Secret{{Placeholder: "P", Value: "v", Hosts: []string{"a.*.com"}}}, "secrets[0].hosts[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Validate("secrets", c.list)
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.InvalidConfig || e.Field != c.field {
				t.Fatalf("got %v, want INVALID_CONFIG on %s", err, c.field)
			}
			for _, s := range c.list {
				if len(s.Value) > 2 && strings.Contains(err.Error(), s.Value) {
					t.Fatalf("error %q quotes a value", err)
				}
			}
		})
	}
}

func TestHostsMatchNamesAndWildcards(t *testing.T) {
	s := mustSet(t, openai, github)
	for host, want := range map[string]bool{
		"api.openai.com": true, "API.OpenAI.com.": true, "openai.com": false, "x.api.openai.com": false,
		"github.com": true, "api.github.com": true, "a.b.github.com": true, "evilgithub.com": false, "github.com.evil": false,
	} {
		if got := s.Intercepts(host); got != want {
			t.Errorf("Intercepts(%q) = %v, want %v", host, got, want)
		}
	}
	if (*Set)(nil).Intercepts("api.openai.com") {
		t.Error("an empty set intercepts nothing")
	}
}

func TestSubstituteOnlyForTheSecretsHosts(t *testing.T) {
	s := mustSet(t, openai, github)
	header := "Bearer GVP_OPENAI and GVP_GITHUB"
	if got := s.Substitute(header, "api.openai.com"); got != "Bearer sk-real-openai-0123456789 and GVP_GITHUB" {
		t.Fatalf("substituted %q", got)
	}
	if got := s.Misplaced(header, "api.openai.com"); got != "GVP_GITHUB" {
		t.Fatalf("misplaced %q, want GVP_GITHUB", got)
	}
	if got := s.Misplaced("Bearer GVP_OPENAI", "api.openai.com"); got != "" {
		t.Fatalf("misplaced %q for its own host", got)
	}
	// Split, encoded or re-cased placeholders are not placeholders.
	for _, text := range []string{"GVP_OPEN AI", "GVP%5FOPENAI", "gvp_openai", "R1ZQX09QRU5BSQ=="} {
		if got := s.Substitute(text, "api.openai.com"); got != text {
			t.Errorf("Substitute(%q) = %q", text, got)
		}
	}
	// A value that holds a placeholder is not substituted again.
	loop := mustSet(t, Secret{Placeholder: "PH_A", Value: "PH_B-x", Hosts: []string{"a.com"}}, Secret{Placeholder: "PH_B", Value: "secret-b", Hosts: []string{"a.com"}})
	if got := loop.Substitute("PH_A", "a.com"); got != "PH_B-x" {
		t.Fatalf("one pass expected, got %q", got)
	}
}

func TestRedactorReplacesValuesAnywhereInAStream(t *testing.T) {
	s := mustSet(t, openai, github, Secret{Placeholder: "GVP_SHORT", Value: "sk-real", Hosts: []string{"a.com"}})
	r := s.Redactor()
	body := "start sk-real-openai-0123456789 mid ghp_real_github_abcdef sk-real sk-real-openai-0123456789sk-realsk-real-openai end sk-rea"
	want := "start GVP_OPENAI mid GVP_GITHUB GVP_SHORT GVP_OPENAIGVP_SHORTGVP_SHORT-openai end sk-rea"
	if got := r.String(body); got != want {
		t.Fatalf("String:\n got %q\nwant %q", got, want)
	}
	// Every split of the stream into two reads, and one byte per read.
	for cut := 0; cut <= len(body); cut++ {
		src := io.MultiReader(strings.NewReader(body[:cut]), strings.NewReader(body[cut:]))
		got, err := io.ReadAll(r.Reader(src))
		if err != nil || string(got) != want {
			t.Fatalf("split at %d: %q, %v", cut, got, err)
		}
	}
	got, err := io.ReadAll(r.Reader(iotest.OneByteReader(strings.NewReader(body))))
	if err != nil || string(got) != want {
		t.Fatalf("one byte per read: %q, %v", got, err)
	}
}

func TestRedactorPassesStreamsWithoutValues(t *testing.T) {
	r := mustSet(t, openai).Redactor()
	data := bytes.Repeat([]byte("0123456789abcdef sk-real-openai- "), 100000)
	got, err := io.ReadAll(r.Reader(bytes.NewReader(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("changed a stream without values (%d bytes, %v)", len(got), err)
	}
	// A read error is returned after the data before it.
	boom := errors.New("boom")
	got, err = io.ReadAll(r.Reader(io.MultiReader(strings.NewReader("abc sk-real-openai-0123456789"), iotest.ErrReader(boom))))
	if !errors.Is(err, boom) || string(got) != "abc GVP_OPENAI" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestRedactorHoldsBackOnlyAPossibleValueStart(t *testing.T) {
	r := mustSet(t, openai).Redactor()
	pr, pw := io.Pipe()
	rd := r.Reader(pr)
	go func() { _, _ = pw.Write([]byte("data: hello\n\n")) }()
	buf := make([]byte, 64)
	n, err := rd.Read(buf)
	if err != nil || string(buf[:n]) != "data: hello\n\n" {
		t.Fatalf("a chunk without a value start is delivered at once: %q, %v", buf[:n], err)
	}
	go func() {
		_, _ = pw.Write([]byte("x sk-real"))
		_, _ = pw.Write([]byte("-openai-0123456789 y"))
		_ = pw.Close()
	}()
	rest, _ := io.ReadAll(rd)
	if string(rest) != "x GVP_OPENAI y" {
		t.Fatalf("got %q", rest)
	}
}

func TestGuardPlainStopsAPlaceholderBeforeAnyOfItLeaves(t *testing.T) {
	s := mustSet(t, openai, github)
	stream := "GET /?q=1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer GVP_OPENAI\r\n\r\n"
	for cut := 0; cut <= len(stream); cut++ {
		src := io.MultiReader(strings.NewReader(stream[:cut]), strings.NewReader(stream[cut:]))
		got, err := io.ReadAll(s.GuardPlain(src))
		var misuse *MisuseError
		if !errors.As(err, &misuse) || misuse.Placeholder != "GVP_OPENAI" {
			t.Fatalf("split at %d: %v", cut, err)
		}
		if strings.Contains(string(got), "GVP_") {
			t.Fatalf("split at %d: part of the placeholder was released: %q", cut, got)
		}
	}
	clean := strings.Repeat("GET / HTTP/1.1\r\nHost: example.com\r\nX: GVP_OPENA\r\n\r\n", 1000)
	got, err := io.ReadAll(s.GuardPlain(strings.NewReader(clean)))
	if err != nil || string(got) != clean {
		t.Fatalf("a stream without placeholders changed: %v", err)
	}
}
