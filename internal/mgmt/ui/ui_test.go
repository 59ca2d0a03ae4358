package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIndex(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/index.html"} {
		r := get(t, h, "GET", p)
		if r.StatusCode != 200 {
			t.Fatalf("GET %s = %d", p, r.StatusCode)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s Content-Type = %q", p, ct)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q, want no-cache", p, cc)
		}
		for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "ETag"} {
			if r.Header.Get(k) == "" {
				t.Errorf("GET %s: no %s", p, k)
			}
		}
		b := body(t, r)
		if strings.Contains(b, "{{ASSETS}}") {
			t.Errorf("index.html still has the asset placeholder")
		}
		if want := `src="static/` + Build() + `/js/app.js"`; !strings.Contains(b, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
}

// TestAssets fetches every asset index.html names, and every module the
// JavaScript imports, under the versioned prefix.
func TestAssets(t *testing.T) {
	h := Handler()
	idx := body(t, get(t, h, "GET", "/"))
	refs := regexp.MustCompile(`(?:src|href)="(static/[^"]+)"`).FindAllStringSubmatch(idx, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names %d assets", len(refs))
	}
	want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, m := range refs {
		r := get(t, h, "GET", "/"+m[1])
		if r.StatusCode != 200 {
			t.Errorf("GET /%s = %d", m[1], r.StatusCode)
			continue
		}
		for ext, ct := range want {
			if strings.HasSuffix(m[1], ext) && r.Header.Get("Content-Type") != ct {
				t.Errorf("GET /%s Content-Type = %q, want %q", m[1], r.Header.Get("Content-Type"), ct)
			}
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET /%s Cache-Control = %q, want immutable", m[1], cc)
		}
	}
	// Every relative import of every module resolves to an embedded file.
	importRE := regexp.MustCompile(`(?m)(?:^import .* from|import\() ?'(\.{1,2}/[^']+)'|import\(` + "`" + `(\./pages/)\$\{`)
	imports := 0
	err := fs.WalkDir(staticFS, "static/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, _ := fs.ReadFile(staticFS, p)
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			if m[1] == "" {
				continue
			}
			imports++
			target := resolve(strings.TrimPrefix(p, "static/"), m[1])
			if _, ok := loaded.assets[target]; !ok {
				t.Errorf("%s imports %s: no embedded %s", p, m[1], target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if imports < 20 {
		t.Errorf("found only %d imports: is the pattern stale?", imports)
	}
}

func resolve(from, rel string) string {
	dir := from[:strings.LastIndex(from, "/")+1]
	parts := strings.Split(dir+rel, "/")
	var out []string
	for _, s := range parts {
		switch s {
		case ".", "":
		case "..":
			out = out[:len(out)-1]
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

func TestCaching(t *testing.T) {
	h := Handler()
	r := get(t, h, "GET", "/static/"+Build()+"/app.css")
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	r = get(t, h, "GET", "/static/"+Build()+"/app.css", "If-None-Match", etag)
	if r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", r.StatusCode)
	}
	if b := body(t, r); b != "" {
		t.Errorf("304 with a body of %d bytes", len(b))
	}
	// An old build's URL still works, but is not cached for long.
	for _, p := range []string{"/static/000000000000/app.css", "/static/app.css"} {
		r = get(t, h, "GET", p)
		if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d, Cache-Control %q; want 200, no-cache", p, r.StatusCode, r.Header.Get("Cache-Control"))
		}
	}
}

func TestGzip(t *testing.T) {
	h := Handler()
	plain := body(t, get(t, h, "GET", "/static/"+Build()+"/js/app.js"))
	r := get(t, h, "GET", "/static/"+Build()+"/js/app.js", "Accept-Encoding", "gzip, deflate, br")
	if r.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("Content-Encoding %q, Vary %q", r.Header.Get("Content-Encoding"), r.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(body(t, r))))
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if string(unz) != plain {
		t.Errorf("gzipped body differs from the plain one")
	}
	r = get(t, h, "GET", "/static/"+Build()+"/js/app.js", "Accept-Encoding", "gzip;q=0")
	if r.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still gzipped")
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/nope", "/static/" + Build() + "/nope.js", "/static/../ui.go", "/api/overview"} {
		if r := get(t, h, "GET", p); r.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, r.StatusCode)
		}
	}
	if r := get(t, h, "POST", "/"); r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
	r := get(t, h, "HEAD", "/")
	if r.StatusCode != 200 || body(t, r) != "" || r.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD / = %d with Content-Length %q", r.StatusCode, r.Header.Get("Content-Length"))
	}
	if r := get(t, h, "GET", "/favicon.ico"); r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("GET /favicon.ico = %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
}

// TestNoThirdPartyCode keeps the UI free of frameworks and remote assets.
func TestNoThirdPartyCode(t *testing.T) {
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, _ := fs.ReadFile(staticFS, p)
		for _, bad := range []string{"http://", "https://", "jquery", "cdn."} {
			s := strings.ReplaceAll(string(src), "http://www.w3.org/2000/svg", "")
			if strings.Contains(strings.ToLower(s), bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		return nil
	})
}
