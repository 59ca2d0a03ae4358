package perf

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as inline SVG, so an HTML report needs no script
// and no external asset: it opens offline, in any browser, years later.

// palette is colour-blind friendly (Okabe-Ito), in series order.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"}

type series struct {
	Name  string
	Color string
	Dash  bool
	X, Y  []float64
}

// lineChart is a chart of series over a shared numeric x axis.
type lineChart struct {
	Title, XLabel, YLabel string
	Series                []series
	W, H                  int
}

const (
	chartLeft   = 72
	chartRight  = 20
	chartTop    = 58
	chartBottom = 48
)

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	// From the step at or below lo to the one at or above hi, so that
	// nothing drawn goes past the last grid line.
	var t []float64
	first, last := math.Floor(lo/step+1e-9), math.Ceil(hi/step-1e-9)
	for i := first; i <= last; i++ {
		t = append(t, i*step)
	}
	return t
}

// tickLabel formats an axis value: 12k, 1.5M, 0.25.
func tickLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v/1e6), "0"), ".") + "M"
	case a >= 1e4:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v/1e3), "0"), ".") + "k"
	case a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func esc(s string) string { return html.EscapeString(s) }

// legend draws the series names as swatches in a row under the title.
func legend(b *strings.Builder, names, colors []string, dashes []bool, x0 int) {
	x := x0
	for i, n := range names {
		dash := ""
		if dashes != nil && dashes[i] {
			dash = ` stroke-dasharray="6 3"`
		}
		fmt.Fprintf(b, `<line x1="%d" y1="38" x2="%d" y2="38" stroke="%s" stroke-width="3"%s/>`, x, x+22, colors[i], dash)
		fmt.Fprintf(b, `<text x="%d" y="42" class="legend">%s</text>`, x+28, esc(n))
		x += 28 + 7*len([]rune(n)) + 22
	}
}

// SVG renders the chart. Empty data still gets axes and a note.
func (c lineChart) SVG() template.HTML {
	if c.W == 0 {
		c.W, c.H = 960, 320
	}
	pw, ph := float64(c.W-chartLeft-chartRight), float64(c.H-chartTop-chartBottom)
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	n := 0
	for _, s := range c.Series {
		for i := range s.X {
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymax = math.Max(ymax, s.Y[i])
			n++
		}
	}
	if n == 0 {
		xmin, xmax = 0, 1
	}
	if xmin > 0 && xmin <= 1.5 {
		xmin = 0 // samples start at t = 1 s; show the start
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	yt := niceTicks(0, math.Max(ymax*1.05, 1e-9), 5)
	if ymax == 0 {
		yt = []float64{0, 1}
	}
	ytop := yt[len(yt)-1]
	xt := niceTicks(xmin, xmax, 8)
	px := func(x float64) float64 { return chartLeft + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return chartTop + ph - y/ytop*ph }

	var b strings.Builder
	svgFrame(&b, c.W, c.H, c.Title, yt, py)
	for _, v := range xt {
		if v < xmin-1e-9 || v > xmax+1e-9 {
			continue
		}
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" class="grid"/>`, x, chartTop, x, chartTop+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xtick">%s</text>`, x, chartTop+ph+18, tickLabel(v))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="axis"/>`, chartLeft, chartTop+ph, c.W-chartRight, chartTop+ph)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" class="axis"/>`, chartLeft, chartTop, chartLeft, chartTop+ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xlabel">%s</text>`, chartLeft+pw/2, c.H-8, esc(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" class="ylabel">%s</text>`, chartTop+ph/2, esc(c.YLabel))
	if n == 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="empty">no samples</text>`, chartLeft+pw/2, chartTop+ph/2)
	}
	var names, colors []string
	var dashes []bool
	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		names, colors, dashes = append(names, s.Name), append(colors, color), append(dashes, s.Dash)
		if len(s.X) == 0 {
			continue
		}
		var pts strings.Builder
		for j := range s.X {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.X[j]), py(s.Y[j]))
		}
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="6 3"`
		}
		// Earlier series are drawn wider, so that equal series (sent and
		// confirmed, say) still show as stacked lines.
		width := 2 + 1.5*float64(len(c.Series)-1-i)
		fmt.Fprintf(&b, `<polyline class="series" data-series="%s" points="%s" stroke="%s" stroke-width="%.1f"%s/>`, esc(s.Name), strings.TrimSpace(pts.String()), color, width, dash)
		if len(s.X) <= 30 { // few samples: mark each, so single points show
			for j := range s.X {
				fmt.Fprintf(&b, `<circle class="point" cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, px(s.X[j]), py(s.Y[j]), color)
			}
		}
	}
	legend(&b, names, colors, dashes, chartLeft)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart is grouped bars: one group per label, one bar per series.
type barChart struct {
	Title, YLabel string
	Groups        []string
	Series        []series // Y holds one value per group
	RefLine       float64  // a dashed horizontal line at this value, if > 0
	W, H          int
}

func (c barChart) SVG() template.HTML {
	if c.W == 0 {
		c.W, c.H = 460, 280
	}
	pw, ph := float64(c.W-chartLeft-chartRight), float64(c.H-chartTop-chartBottom)
	ymax := c.RefLine
	for _, s := range c.Series {
		for _, v := range s.Y {
			ymax = math.Max(ymax, v)
		}
	}
	yt := niceTicks(0, math.Max(ymax*1.08, 1e-9), 4)
	ytop := yt[len(yt)-1]
	py := func(y float64) float64 { return chartTop + ph - y/ytop*ph }
	var b strings.Builder
	svgFrame(&b, c.W, c.H, c.Title, yt, py)
	gw := pw / float64(max(len(c.Groups), 1))
	bw := gw * 0.7 / float64(max(len(c.Series), 1))
	var names, colors []string
	for si, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[si%len(palette)]
		}
		names, colors = append(names, s.Name), append(colors, color)
		for gi, v := range s.Y {
			x := chartLeft + float64(gi)*gw + gw*0.15 + float64(si)*bw
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x, py(v), bw-2, chartTop+ph-py(v), color, esc(s.Name), esc(c.Groups[gi]), tickLabel(v))
		}
	}
	for gi, g := range c.Groups {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xtick">%s</text>`, chartLeft+float64(gi)*gw+gw/2, chartTop+ph+18, esc(g))
	}
	if c.RefLine > 0 {
		y := py(c.RefLine)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="ref"/>`, chartLeft, y, c.W-chartRight, y)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="axis"/>`, chartLeft, chartTop+ph, c.W-chartRight, chartTop+ph)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" class="axis"/>`, chartLeft, chartTop, chartLeft, chartTop+ph)
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" class="ylabel">%s</text>`, chartTop+ph/2, esc(c.YLabel))
	legend(&b, names, colors, nil, chartLeft)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// svgFrame opens a chart's SVG element and draws its title and the
// horizontal grid lines with their y tick labels.
func svgFrame(b *strings.Builder, w, h int, title string, yt []float64, py func(float64) float64) {
	fmt.Fprintf(b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, w, h, w, h, esc(title))
	fmt.Fprintf(b, `<text x="%d" y="20" class="title">%s</text>`, chartLeft, esc(title))
	for _, v := range yt {
		y := py(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`, chartLeft, y, w-chartRight, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" class="ytick">%s</text>`, chartLeft-8, y+4, tickLabel(v))
	}
}
