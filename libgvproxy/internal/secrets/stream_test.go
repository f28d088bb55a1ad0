package secrets

import (
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// chunky returns src's bytes in reads of pseudo-random sizes (1 byte to 40 KiB), so a
// value lands across reads and reads both smaller and larger than the reader's buffer.
type chunky struct {
	src io.Reader
	rnd *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	n := 1 + c.rnd.IntN(40<<10)
	if c.rnd.IntN(4) == 0 {
		n = 1 + c.rnd.IntN(32)
	}
	return c.src.Read(p[:min(len(p), n)])
}

// A long stream with values at every kind of offset, read through pseudo-random source
// reads into pseudo-random caller buffers, comes out as String would redact it.
func TestRedactorReaderOverALongStreamMatchesString(t *testing.T) {
	r := mustSet(t, openai, github, Secret{Placeholder: "GVP_SHORT", Value: "sk-real", Hosts: []string{"a.com"}}).Redactor()
	rnd := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	pieces := []string{openai.Value, github.Value, "sk-real", "sk-rea", "ghp_real_github_abcde", "x"}
	for b.Len() < 1<<20 {
		b.WriteString(strings.Repeat("z", rnd.IntN(70<<10)))
		b.WriteString(pieces[rnd.IntN(len(pieces))])
	}
	body := b.String()
	want := r.String(body)
	for seed := uint64(0); seed < 8; seed++ {
		rd := r.Reader(&chunky{src: strings.NewReader(body), rnd: rand.New(rand.NewPCG(seed, 7))})
		var got strings.Builder
		p := make([]byte, 64<<10)
		for {
			n, err := rd.Read(p[:1+rnd.IntN(len(p))])
			got.Write(p[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got.String() != want {
			t.Fatalf("seed %d: %d bytes out, want %d (the streams differ)", seed, got.Len(), len(want))
		}
	}
}
