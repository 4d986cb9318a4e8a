package experiment

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WritePlots renders figs as SVG files into dir and returns their paths,
// in the order given.
func WritePlots(dir string, figs []Figure) ([]string, error) {
	var files []string
	for _, f := range figs {
		b, err := Render(f)
		if err != nil {
			return files, err
		}
		path := filepath.Join(dir, f.File)
		if err := writeAtomic(path, b); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

// Sizes of a rendered figure.
const (
	figWidth     = 8 * vg.Inch
	margin       = 10
	runsRowH     = 2.3 * vg.Inch
	barH         = 0.3 * vg.Inch // per policy
	barsFrameH   = 0.8 * vg.Inch
	barsPanelW   = 2.8 * vg.Inch
	legendSwatch = 22
	legendLineH  = 15
	// slack widens text measured in Liberation Sans: a viewer without
	// it (or Arial) draws a wider face, DejaVu Sans among them.
	slack = 1.15
)

// Greys of text and rules.
const (
	darkText  = 0x22
	greyText  = 0x44
	sepColor  = 0xbb
	gridColor = 0xdd
)

func grey(v uint8) color.RGBA { return color.RGBA{v, v, v, 0xff} }

func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

func textStyle(size vg.Length, c color.Color, x text.XAlignment, y text.YAlignment) text.Style {
	return text.Style{Color: c, Font: sans(size), XAlign: x, YAlign: y, Handler: plot.DefaultTextHandler}
}

// Render draws a figure: its title and setting across the top, its
// panels in a grid below, and its legend, when it has one, in a column
// of its own at the right, so that no legend lies on any data.
func Render(f Figure) ([]byte, error) {
	if len(f.Panels) == 0 {
		return nil, fmt.Errorf("render %s: no panels", f.File)
	}
	cols := max(f.Cols, 1)
	rows := (len(f.Panels) + cols - 1) / cols
	// A row of bars panels is as wide as it needs; the rest span the page.
	width := vg.Length(figWidth)
	if f.Panels[0].Kind == PanelBars {
		width = min(width, barsPanelW*vg.Length(cols)+2.2*vg.Inch)
	}
	titleSty := textStyle(13, grey(darkText), draw.XLeft, draw.YTop)
	setSty := textStyle(9, grey(greyText), draw.XLeft, draw.YTop)
	lines := wrap(f.Setting, setSty, width-2*margin)
	headerH := titleSty.Height(f.Title) + 4 + vg.Length(len(lines))*setSty.Height("Xg")*1.15 + 8
	rowH := vg.Length(runsRowH)
	if f.Panels[0].Kind == PanelBars {
		rowH = barsFrameH + barH*vg.Length(len(f.Panels[0].Bars))
	}
	height := headerH + rowH*vg.Length(rows) + 2*margin
	svg := vgsvg.New(width, height)
	dc := draw.New(svg)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	y := dc.Max.Y - margin
	dc.FillText(titleSty, vg.Point{X: margin, Y: y}, f.Title)
	y -= titleSty.Height(f.Title) + 4
	for _, l := range lines {
		dc.FillText(setSty, vg.Point{X: margin, Y: y}, l)
		y -= setSty.Height("Xg") * 1.15
	}

	area := draw.Crop(dc, margin, -margin, margin, -(headerH + margin))
	legendW := vg.Length(0)
	if f.Legend.Place == LegendRight {
		legendW = legendWidth(f.Legend)
		area = draw.Crop(area, 0, -legendW, 0, 0)
	}
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
	}
	for i, pn := range f.Panels {
		grid[i/cols][i%cols] = panelPlot(pn)
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: 14, PadY: 12}
	cvs := plot.Align(grid, tiles, area)
	for r := range grid {
		for c, p := range grid[r] {
			if p != nil {
				p.Draw(cvs[r][c])
			}
		}
	}
	if f.Legend.Place == LegendRight {
		top := grid[0][0].DataCanvas(cvs[0][0]).Max.Y
		drawLegend(dc, f.Legend, area.Max.X+12, top)
	}
	var b bytes.Buffer
	if _, err := svg.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("render %s: %w", f.File, err)
	}
	// The fonts are not embedded (they would weigh more than the
	// figure): a viewer without Liberation Sans falls back on Arial,
	// whose metrics are the same, rather than on its default serif face.
	return bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
}

// wrap breaks s at spaces into lines no wider than w.
func wrap(s string, sty text.Style, w vg.Length) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		next := word
		if cur != "" {
			next = cur + " " + word
		}
		if cur != "" && sty.Width(next)*slack > w {
			lines = append(lines, cur)
			next = word
		}
		cur = next
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// panelPlot builds the axes of one panel; what is on them is drawn by
// panelData.
func panelPlot(pn Panel) *plot.Plot {
	p := plot.New()
	p.Title.Text = pn.Title
	p.Title.TextStyle = textStyle(10.5, grey(darkText), draw.XCenter, draw.YTop)
	p.Title.Padding = 4
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle = textStyle(10, grey(darkText), draw.XCenter, draw.YBottom)
		a.Tick.Label = textStyle(9, grey(darkText), a.Tick.Label.XAlign, a.Tick.Label.YAlign)
		a.Padding = 0
	}
	p.X.Label.Text, p.Y.Label.Text = pn.XLabel, pn.YLabel
	// Grid lines across the values only: along a bar's length, or
	// across the runs' times and hops.
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = nil, grey(gridColor)
	if pn.Kind == PanelBars {
		g.Vertical.Color, g.Horizontal.Color = grey(gridColor), nil
	}
	p.Add(g, panelData{pn})
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = pn.XMin, pn.XMax, pn.YMin, pn.YMax
	if pn.XTicks != nil {
		p.X.Tick.Marker = ticks(pn.XTicks)
	}
	if pn.YTicks != nil {
		p.Y.Tick.Marker = ticks(pn.YTicks)
		// Invisible ticks: a gap between the names and the bars.
		p.Y.Tick.LineStyle.Color = color.Transparent
		p.Y.Tick.Length = 8
	}
	if pn.Kind == PanelBars {
		// Each bar's value is printed at its end: a value axis would
		// only repeat it.
		p.HideX()
	}
	if pn.Kind == PanelRuns {
		p.Y.Tick.Marker = valueTicks{}
		if pn.IntegerY {
			p.Y.Tick.Marker = integerTicks{}
		}
	}
	return p
}

func ticks(ts []Tick) plot.ConstantTicks {
	out := make(plot.ConstantTicks, len(ts))
	for i, t := range ts {
		out[i] = plot.Tick{Value: t.At, Label: t.Label}
	}
	return out
}

// integerTicks labels whole numbers only: a count of hops has no 1.5.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for span := hi - lo; span/step > 8; {
		step *= 2
	}
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		out = append(out, plot.Tick{Value: v, Label: formatNumber(v)})
	}
	return out
}

// valueTicks labels four to seven round values (steps of 1, 2, 2.5 or 5
// times a power of ten), where the axis's own ticks may label two.
type valueTicks struct{}

func (valueTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: formatNumber(lo)}}
	}
	raw := (hi - lo) / 6
	e := int(math.Floor(math.Log10(raw)))
	mag := math.Pow(10, float64(e))
	step, decimals := 10*mag, max(0, -e-1)
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*mag {
			step, decimals = m*mag, max(0, -e)
			if m == 2.5 {
				decimals = max(0, 1-e)
			}
			break
		}
	}
	var out []plot.Tick
	// The tolerance keeps a bound that is a multiple of the step, such
	// as 0.2 of 0.05, from being lost to rounding.
	const eps = 1e-9
	for i := math.Ceil(lo/step - eps); i*step <= hi+eps*step; i++ {
		v := i * step
		if v == 0 {
			v = 0 // not -0
		}
		out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return out
}

// panelData draws a panel's runs or bars.
type panelData struct{ p Panel }

func (d panelData) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	pn := d.p
	switch pn.Kind {
	case PanelRuns:
		// Thin separators between the values of a categorical axis, so
		// that each value's group of policies reads as one.
		for i := 1; i < len(pn.XTicks) && !slices.ContainsFunc(pn.Series, func(s Series) bool { return s.Line }); i++ {
			x := trX(float64(i) - 0.5)
			c.StrokeLine2(draw.LineStyle{Color: grey(sepColor), Width: 0.5, Dashes: []vg.Length{2, 2}}, x, c.Min.Y, x, c.Max.Y)
		}
		for _, s := range pn.Series {
			if s.Line && len(s.Medians) > 1 {
				pts := make([]vg.Point, len(s.Medians))
				for i, m := range s.Medians {
					pts[i] = vg.Point{X: trX(m.X), Y: trY(m.Y)}
				}
				c.StrokeLines(draw.LineStyle{Color: s.Style.Color, Width: 1.2}, pts)
			}
			for _, p := range s.Runs {
				c.DrawGlyph(draw.GlyphStyle{Color: s.Style.Color, Radius: 3.2, Shape: glyph{s.Style.Marker, false}},
					vg.Point{X: trX(p.X), Y: trY(p.Y)})
			}
			for _, m := range s.Medians {
				if m.HalfWidth > 0 {
					c.StrokeLine2(draw.LineStyle{Color: s.Style.Color, Width: 2.2},
						trX(m.X-m.HalfWidth), trY(m.Y), trX(m.X+m.HalfWidth), trY(m.Y))
				} else {
					c.DrawGlyph(draw.GlyphStyle{Color: s.Style.Color, Radius: 3.6, Shape: glyph{s.Style.Marker, true}},
						vg.Point{X: trX(m.X), Y: trY(m.Y)})
				}
			}
		}
	case PanelBars:
		label := textStyle(9, grey(darkText), draw.XLeft, draw.YCenter)
		room := vg.Length(0)
		for _, b := range pn.Bars {
			room = max(room, label.Width(b.Label)*slack+6)
		}
		span := c.Max.X - c.Min.X - room
		for _, b := range pn.Bars {
			x0 := c.Min.X
			x1 := x0 + span*vg.Length(b.Value/pn.XMax)
			y0, y1 := trY(b.At-0.3), trY(b.At+0.3)
			if x1 > x0 {
				c.FillPolygon(b.Style.Color, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			}
			c.FillText(label, vg.Point{X: x1 + 4, Y: trY(b.At)}, b.Label)
		}
	}
}

// glyph draws a policy's marker, hollow for a run (overlapping runs stay
// visible) or filled for a median, with a stroke thick enough to tell
// the shapes apart.
type glyph struct {
	m      Marker
	filled bool
}

func (g glyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	var p vg.Path
	open := false
	switch g.m {
	case MarkerSquare:
		s := r * 0.85
		p.Move(vg.Point{X: pt.X - s, Y: pt.Y - s})
		p.Line(vg.Point{X: pt.X + s, Y: pt.Y - s})
		p.Line(vg.Point{X: pt.X + s, Y: pt.Y + s})
		p.Line(vg.Point{X: pt.X - s, Y: pt.Y + s})
		p.Close()
	case MarkerTriangle:
		p.Move(vg.Point{X: pt.X, Y: pt.Y + r*1.15})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r*0.75})
		p.Line(vg.Point{X: pt.X - r, Y: pt.Y - r*0.75})
		p.Close()
	case MarkerDiamond:
		p.Move(vg.Point{X: pt.X, Y: pt.Y + r*1.2})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Line(vg.Point{X: pt.X, Y: pt.Y - r*1.2})
		p.Line(vg.Point{X: pt.X - r, Y: pt.Y})
		p.Close()
	case MarkerCross:
		open = true
		p.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
		p.Move(vg.Point{X: pt.X - r, Y: pt.Y + r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
	case MarkerPlus:
		open = true
		p.Move(vg.Point{X: pt.X - r*1.15, Y: pt.Y})
		p.Line(vg.Point{X: pt.X + r*1.15, Y: pt.Y})
		p.Move(vg.Point{X: pt.X, Y: pt.Y - r*1.15})
		p.Line(vg.Point{X: pt.X, Y: pt.Y + r*1.15})
	default:
		p.Move(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Arc(pt, r, 0, 2*math.Pi)
		p.Close()
	}
	if g.filled && !open {
		c.SetColor(sty.Color)
		c.Fill(p)
		return
	}
	w := vg.Length(1.3)
	if g.filled {
		w = 2.2
	}
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: w})
	c.Stroke(p)
}

func legendWidth(l Legend) vg.Length {
	sty := textStyle(10, grey(darkText), draw.XLeft, draw.YCenter)
	w := vg.Length(0)
	for _, e := range l.Entries {
		w = max(w, sty.Width(e.Label))
	}
	return 12 + legendSwatch + 6 + w*slack
}

// drawLegend lists the policies, then, apart, what a run and a median
// look like, from top down at x.
func drawLegend(c draw.Canvas, l Legend, x, top vg.Length) {
	sty := textStyle(10, grey(darkText), draw.XLeft, draw.YCenter)
	y := top - legendLineH/2
	for i, e := range l.Entries {
		if i > 0 && e.Kind != EntryPolicy && l.Entries[i-1].Kind == EntryPolicy {
			y -= legendLineH / 2
		}
		mid := vg.Point{X: x + legendSwatch/2, Y: y}
		switch e.Kind {
		case EntryPolicy, EntryRun:
			c.DrawGlyph(draw.GlyphStyle{Color: e.Style.Color, Radius: 3.2, Shape: glyph{e.Style.Marker, false}}, mid)
		case EntryMedianJoined:
			c.StrokeLine2(draw.LineStyle{Color: e.Style.Color, Width: 1.2}, x, y, x+legendSwatch, y)
			c.DrawGlyph(draw.GlyphStyle{Color: e.Style.Color, Radius: 3.6, Shape: glyph{e.Style.Marker, true}}, mid)
		case EntryMedian:
			c.StrokeLine2(draw.LineStyle{Color: e.Style.Color, Width: 2.2}, x+3, y, x+legendSwatch-3, y)
		}
		c.FillText(sty, vg.Point{X: x + legendSwatch + 6, Y: y}, e.Label)
		y -= legendLineH
	}
}
