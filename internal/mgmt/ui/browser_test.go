package ui_test

// The headless-Chromium harness of the UI tests: starts Debian's
// /usr/bin/chromium through chromedp with the flags that keep it off the
// network, records JavaScript exceptions, console errors and CSP
// violations (any of them fails the test), and saves screenshots.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser; tests skip without one unless CI is set
// (scripts/test-deps.sh installs Debian's chromium).
func chromiumPath(t testing.TB) string {
	if p := os.Getenv("WARREN_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium not installed (run scripts/test-deps.sh; `make test` does)")
	return ""
}

type browser struct {
	t             testing.TB
	ctx           context.Context
	base          string
	width, height int

	mu       sync.Mutex
	problems []string
}

// newBrowser starts a headless Chromium with a fresh profile; it is closed
// when the test ends. base is the URL of the UI.
func newBrowser(t testing.TB, base string, width, height int) *browser {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,InterestFeedContentSuggestions"),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: base, width: width, height: height}
	// Start the browser and subscribe to errors before the first page.
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.viewport(width, height)
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Logf("log.enable: %v", err)
	}
	return b
}

func (b *browser) onEvent(ev any) {
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		b.problem("exception: " + (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			b.problem("console." + string(e.Type) + ": " + strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		// Network errors (an expected 404 or 401) are logged with source
		// "network"; CSP violations and other script problems are not.
		if e.Entry.Level == log.EntryLevelError && e.Entry.Source != log.EntrySourceNetwork {
			b.problem(fmt.Sprintf("log %s: %s", e.Entry.Source, e.Entry.Text))
		}
	}
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	b.problems = append(b.problems, s)
	b.mu.Unlock()
}

// checkProblems fails the test if the page reported errors so far.
func (b *browser) checkProblems() {
	b.t.Helper()
	b.mu.Lock()
	p := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, s := range p {
		b.t.Errorf("browser: %s", s)
	}
}

// do runs actions with a timeout and fails the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("FAILED-" + sanitize(what))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates JavaScript and returns its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %q: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is truthy.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	safe := "(() => { try { return !!(" + expr + "); } catch (e) { return false; } })()"
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](safe, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.screenshot("FAILED-" + sanitize(what))
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
		b.t.Fatalf("waiting for %s (%s): %v\n--- page text ---\n%s", what, expr, err, body)
	}
}

// goTo navigates to a hash route of the UI and waits for its page.
func (b *browser) goTo(hash, page string) {
	b.t.Helper()
	b.do("navigate "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)))
	b.waitJS("page "+page, fmt.Sprintf(`document.querySelector('.page[data-page=%q]') !== null`, page), 15*time.Second)
}

// login fills in the login form.
func (b *browser) login(user, pass string) {
	b.t.Helper()
	b.waitJS("login form", `document.querySelector('#login-form') !== null`, 15*time.Second)
	b.setField("#login-username", "")
	b.setField("#login-password", "")
	b.do("log in as "+user,
		chromedp.SendKeys(chromedp.CSS("#login-username"), user),
		chromedp.SendKeys(chromedp.CSS("#login-password"), pass),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
}

// loginOK logs in and waits for the shell.
func (b *browser) loginOK(user, pass string) {
	b.t.Helper()
	b.login(user, pass)
	b.waitJS("logged in as "+user, `document.querySelector('#user-name') !== null`, 15*time.Second)
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// setField sets an input's value the way typing does (input event).
func (b *browser) setField(sel, value string) {
	b.t.Helper()
	b.do("set "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el) throw new Error('no element %s');
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, sel, strings.ReplaceAll(sel, "'", ""), value)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ''`, sel))
}

var shotDirs struct {
	once sync.Once
	dirs []string
}

// screenshotDirs: testdata/screenshots (git-ignored) and, when set,
// $WARREN_ARTIFACTS/ui-screenshots.
func screenshotDirs() []string {
	shotDirs.once.Do(func() {
		shotDirs.dirs = []string{filepath.Join("testdata", "screenshots")}
		if a := os.Getenv("WARREN_ARTIFACTS"); a != "" {
			shotDirs.dirs = append(shotDirs.dirs, filepath.Join(a, "ui-screenshots"))
		}
		for _, d := range shotDirs.dirs {
			os.MkdirAll(d, 0o755)
		}
	})
	return shotDirs.dirs
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// screenshot saves a full-page PNG as <name>.png in the screenshot dirs.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	// Let layout, fonts and the charts' ResizeObserver settle.
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0); new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	for _, d := range screenshotDirs() {
		p := filepath.Join(d, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			b.t.Logf("screenshot %s: %v", name, err)
		}
	}
	b.t.Logf("screenshot %s.png (%d bytes)", name, len(png))
}

func chromedpNavigate(url string) chromedp.Action[chromedp.Void] { return chromedp.Navigate(url) }

// viewport sets the page size; widths under 600 emulate a phone.
func (b *browser) viewport(width, height int) {
	b.t.Helper()
	b.width, b.height = width, height
	var opts []chromedp.EmulateViewportOption
	if width < 600 {
		opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.do("viewport", chromedp.EmulateViewport(int64(width), int64(height), opts...))
}

func chromedpSleep(d time.Duration) chromedp.Action[chromedp.Void] { return chromedp.Sleep(d) }

func chromedpEval(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](expr)
}

// colorScheme emulates prefers-color-scheme ("light" or "dark").
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		b.t.Fatalf("emulate %s: %v", scheme, err)
	}
}
