package routing

import (
	"bufio"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

func needEscript(t *testing.T) string {
	t.Helper()
	if os.Getenv("WARREN_ERLANG_DIFF") == "" {
		t.Skip("set WARREN_ERLANG_DIFF=1 to compare with Erlang")
	}
	path, err := exec.LookPath("escript")
	if err != nil {
		t.Skip("escript not installed")
	}
	return path
}

func runEscript(t *testing.T, escript, body string) []byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "diff.escript")
	if err := os.WriteFile(file, []byte("#!/usr/bin/env escript\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(escript, file).CombinedOutput()
	if err != nil {
		t.Fatalf("escript: %v: %s", err, out)
	}
	return out
}

// erlTerm writes v as the term rabbit_binary_parser decodes it to, with
// binaries as byte lists so the source needs no escaping.
func erlTerm(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return erlBin(b, x)
	case []byte:
		return erlBin(b, string(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, "{%s,", typeOf(e))
			b = erlTerm(b, e)
			b = append(b, '}')
		}
		return append(b, ']')
	case amqp.Table:
		b = append(b, '[')
		// Sorted, so equal maps print alike: Warren compares nested
		// tables without order (values.go).
		for i, k := range slices.Sorted(maps.Keys(x)) {
			e := x[k]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = erlBin(b, k)
			b = fmt.Appendf(b, ",%s,", typeOf(e))
			b = erlTerm(b, e)
			b = append(b, '}')
		}
		return append(b, ']')
	}
	return appendTerm(b, v)
}

func erlBin(b []byte, s string) []byte {
	b = append(b, "<<"...)
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(s[i]), 10)
	}
	return append(b, ">>"...)
}

// randVal makes a random field value, favouring values that collide
// across types.
func randVal(r *rand.Rand, depth int) any {
	ints := []int64{0, 1, -1, 5, 255, -128, 1 << 53, 1<<53 + 1, math.MaxInt64, math.MinInt64, 1700000000}
	n := ints[r.IntN(len(ints))]
	switch r.IntN(18) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return int8(n)
	case 3:
		return uint8(n)
	case 4:
		return int16(n)
	case 5:
		return uint16(n)
	case 6:
		return int32(n)
	case 7:
		return uint32(n)
	case 8:
		return n
	case 9:
		return float32(n)
	case 10:
		fs := []float64{0, 0.5, 0.1, 5, float64(n), 1.5, -1}
		return fs[r.IntN(len(fs))]
	case 11:
		return amqp.Decimal{Scale: uint8(r.IntN(2)), Value: int32(n)}
	case 12:
		return []string{"", "a", "5"}[r.IntN(3)]
	case 13:
		return []byte([]string{"", "a", "5"}[r.IntN(3)])
	case 14:
		return time.Unix(n&0xffffffff, 0)
	case 15:
		if depth > 1 {
			return "x"
		}
		t := amqp.Table{}
		for i := r.IntN(2); i > 0; i-- {
			t[[]string{"k", "j"}[r.IntN(2)]] = randVal(r, depth+1)
		}
		return t
	default:
		if depth > 1 {
			return int32(1)
		}
		var a []any = []any{}
		for i := r.IntN(3); i > 0; i-- {
			a = append(a, randVal(r, depth+1))
		}
		return a
	}
}

// TestErlangEquality compares looseEqual and typedEqual with what Erlang
// itself answers for the same decoded terms: A == B for the headers
// exchange, {TypeA, A} =:= {TypeB, B} for binding identity. It needs
// escript and runs only with WARREN_ERLANG_DIFF=1.
func TestErlangEquality(t *testing.T) {
	escript := needEscript(t)
	r := rand.New(rand.NewPCG(7, 7))
	type pair struct{ a, b any }
	var pairs []pair
	var src strings.Builder
	src.WriteString("main(_) ->\n  L = [\n")
	for i := 0; i < 20000; i++ {
		a, b := randVal(r, 0), randVal(r, 0)
		if r.IntN(4) == 0 {
			b = a
		}
		pairs = append(pairs, pair{a, b})
		if i > 0 {
			src.WriteString(",\n")
		}
		fmt.Fprintf(&src, "{%s,%s,%s,%s}", erlTerm(nil, a), erlTerm(nil, b), typeOf(a), typeOf(b))
	}
	src.WriteString("],\n  [io:format(\"~p ~p~n\", [A == B, {TA, A} =:= {TB, B}]) || {A, B, TA, TB} <- L].\n")
	out := runEscript(t, escript, src.String())
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	i, bad := 0, 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		p := pairs[i]
		loose, typed := looseEqual(p.a, p.b), typedEqual(p.a, p.b)
		if strconv.FormatBool(loose) != f[0] || strconv.FormatBool(typed) != f[1] {
			bad++
			if bad < 20 {
				t.Errorf("%#v vs %#v: go loose=%v typed=%v, erlang %v", p.a, p.b, loose, typed, f)
			}
		}
		i++
	}
	if i != len(pairs) {
		t.Fatalf("got %d lines for %d pairs", i, len(pairs))
	}
	t.Logf("%d pairs compared, %d differ", i, bad)
}

// TestErlangFloatFormat compares appendErlangFloat with ~p in Erlang.
// It needs escript and runs only with WARREN_ERLANG_DIFF=1.
func TestErlangFloatFormat(t *testing.T) {
	escript := needEscript(t)
	r := rand.New(rand.NewPCG(9, 9))
	var fs []float64
	var src strings.Builder
	src.WriteString("main(_) ->\n  L = [\n")
	for i := 0; i < 20000; i++ {
		var f float64
		switch r.IntN(4) {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			f = float64(r.IntN(1000000)) * math.Pow(10, float64(r.IntN(40)-20))
		case 2:
			f = float64(float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10))))
		default:
			f = math.Round(r.Float64()*1e6) / math.Pow(10, float64(r.IntN(8)))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		fs = append(fs, f)
		if len(fs) > 1 {
			src.WriteString(",\n")
		}
		fmt.Fprintf(&src, "<<%d:64>>", math.Float64bits(f))
	}
	src.WriteString("],\n  [begin <<F:64/float>> = B, io:format(\"~p~n\", [F]) end || B <- L].\n")
	out := runEscript(t, escript, src.String())
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(fs) {
		t.Fatalf("%d lines for %d floats", len(lines), len(fs))
	}
	bad := 0
	for i, f := range fs {
		if got := string(appendErlangFloat(nil, f)); got != lines[i] {
			bad++
			if bad < 20 {
				t.Errorf("%v: go %q erlang %q", f, got, lines[i])
			}
		}
	}
	t.Logf("%d floats, %d differ", len(fs), bad)
}
