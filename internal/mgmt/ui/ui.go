// Package ui is Warren's management web UI: plain HTML, CSS and JavaScript
// modules embedded in the binary and served by Handler. The UI talks to
// the management HTTP API under /api with HTTP basic credentials that it
// keeps in sessionStorage; it has no server-side state of its own.
//
// Caching: index.html is always revalidated (ETag, Cache-Control: no-cache)
// and names its assets under /static/<build>/, where <build> is a hash of
// every embedded file, so the assets can be cached as immutable for a
// year: a new binary changes the hash and with it every asset URL. Assets
// asked for under another (older) build, or under /static/ without one,
// are served with no-cache, so a page loaded from an old binary still
// works. Every response that can be compressed is served gzipped to
// clients that accept it, compressed once at start-up.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed static
var staticFS embed.FS

// assetPlaceholder in index.html is replaced by the versioned asset prefix.
const assetPlaceholder = "{{ASSETS}}/"

// file is one embedded file, ready to serve.
type file struct {
	body  []byte
	gz    []byte // gzipped body, nil when it would not be smaller
	ctype string
	etag  string
}

type site struct {
	build  string           // hash of all files
	index  *file            // index.html with asset URLs filled in
	assets map[string]*file // by path below static/, e.g. "js/app.js"
}

var (
	loadOnce sync.Once
	loaded   *site
	loadErr  error
)

// Handler serves the UI: / is the single page, /static/... its assets.
// Other paths get 404 (the API is mounted separately under /api/).
func Handler() http.Handler {
	loadOnce.Do(func() { loaded, loadErr = load() })
	if loadErr != nil {
		// The files are embedded; failing here is a build bug.
		panic("ui: " + loadErr.Error())
	}
	return loaded
}

// contentTypes fixes the types of the extensions we ship, independent of
// the host's mime database.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

func contentType(name string) string {
	ext := path.Ext(name)
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func newFile(name string, body []byte) *file {
	sum := sha256.Sum256(body)
	f := &file{body: body, ctype: contentType(name), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if compressible(f.ctype) && len(body) > 256 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body) {
			f.gz = buf.Bytes()
		}
	}
	return f
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

func load() (*site, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &site{assets: map[string]*file{}}
	var names []string
	bodies := map[string][]byte{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		names = append(names, p)
		bodies[p] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(bodies[n])
	}
	s.build = hex.EncodeToString(h.Sum(nil))[:12]
	for _, n := range names {
		if n == "index.html" {
			continue
		}
		s.assets[n] = newFile(n, bodies[n])
	}
	idx, ok := bodies["index.html"]
	if !ok {
		return nil, fs.ErrNotExist
	}
	idx = bytes.ReplaceAll(idx, []byte(assetPlaceholder), []byte("static/"+s.build+"/"))
	s.index = newFile("index.html", idx)
	return s, nil
}

// Build is the hash that versions the asset URLs of this binary.
func Build() string {
	Handler()
	return loaded.build
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/index.html":
		setSecurityHeaders(w.Header(), true)
		s.serve(w, r, s.index, "no-cache")
	case p == "/favicon.ico":
		if f := s.assets["favicon.svg"]; f != nil {
			s.serve(w, r, f, "public, max-age=86400")
			return
		}
		http.NotFound(w, r)
	case strings.HasPrefix(p, "/static/"):
		rest := strings.TrimPrefix(p, "/static/")
		cache := "no-cache"
		if i := strings.IndexByte(rest, '/'); i > 0 && isBuildHash(rest[:i]) {
			if rest[:i] == s.build {
				cache = "public, max-age=31536000, immutable"
			}
			rest = rest[i+1:]
		}
		f, ok := s.assets[rest]
		if !ok {
			http.NotFound(w, r)
			return
		}
		setSecurityHeaders(w.Header(), false)
		s.serve(w, r, f, cache)
	default:
		http.NotFound(w, r)
	}
}

func isBuildHash(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// csp allows only the UI's own files and API; styles set from script
// through the CSSOM are not affected by style-src.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func setSecurityHeaders(h http.Header, page bool) {
	h.Set("X-Content-Type-Options", "nosniff")
	if page {
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
	}
}

func (s *site) serve(w http.ResponseWriter, r *http.Request, f *file, cache string) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", cache)
	h.Set("ETag", f.etag)
	if f.gz != nil {
		h.Add("Vary", "Accept-Encoding")
	}
	if etagMatch(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = f.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// etagMatch implements If-None-Match's weak comparison for our strong tags.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (not
// with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
			return false
		}
		return true
	}
	return false
}
