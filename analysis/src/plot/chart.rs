//! The two chart shapes every figure is made of (lines over numeric axes,
//! grouped bars over categories), drawn on any plotters backend so one
//! description becomes both the SVG and the PNG.

use super::style::{color_of, FONT};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// How a series' points are marked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Line only.
    None,
    /// Filled circles.
    Circle,
    /// Filled triangles.
    Triangle,
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Key that picks the colour (a protocol name keeps its colour in
    /// every figure).
    pub color_key: String,
    /// Points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// Optional error bar per point: (low, high) of y.
    pub errors: Vec<Option<(f64, f64)>>,
    /// Point marker.
    pub marker: Marker,
    /// Draw the connecting line.
    pub line: bool,
}

/// A vertical line across the plot (a fault, a leader change).
#[derive(Clone, Debug)]
pub struct VMark {
    /// Where, on the x axis.
    pub x: f64,
    /// Short label drawn at the top.
    pub label: String,
    /// Colour key (see [`color_of`]).
    pub color_key: String,
}

/// How an axis is scaled and labelled.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Scale {
    /// Linear.
    Linear,
    /// Logarithmic (all values must be positive).
    Log,
    /// Percentile axis: values are 1 / (1 - p); labelled as percentiles.
    Percentile,
}

/// A line chart over numeric axes.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Caption.
    pub title: String,
    /// X axis description, with its unit.
    pub x_label: String,
    /// Y axis description, with its unit.
    pub y_label: String,
    /// X scaling.
    pub x_scale: Scale,
    /// Y scaling.
    pub y_scale: Scale,
    /// The lines.
    pub series: Vec<Series>,
    /// Vertical markers.
    pub marks: Vec<VMark>,
}

/// Grouped bars: one group per category, one bar per series in it.
#[derive(Clone, Debug)]
pub struct BarChart {
    /// Caption.
    pub title: String,
    /// Y axis description, with its unit.
    pub y_label: String,
    /// Category names along x.
    pub categories: Vec<String>,
    /// (legend name, colour key, one value per category).
    pub groups: Vec<(String, String, Vec<Option<f64>>)>,
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Data extent of the chart's points and error bars along one axis.
fn extent(values: impl Iterator<Item = f64>, scale: Scale) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter(|v| v.is_finite()) {
        if scale != Scale::Linear && v <= 0.0 {
            continue;
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if scale == Scale::Linear {
            (0.0, 1.0)
        } else {
            (1.0, 10.0)
        };
    }
    match scale {
        Scale::Linear => {
            let lo = lo.min(0.0);
            if hi - lo < 1e-9 {
                // All values equal (say all zero): a unit span, so the
                // axis gets distinct tick labels.
                return (lo, lo + 1.0);
            }
            (lo, hi + (hi - lo) * 0.08)
        }
        Scale::Log | Scale::Percentile => (lo / 1.3, hi * 1.3),
    }
}

fn percentile_label(v: &f64) -> String {
    let v = v.max(1.0);
    let p = 100.0 * (1.0 - 1.0 / v);
    // 1/(1-p) of 100 is 99%, of 1000 is 99.9%: one more digit per decade.
    let digits = (v.log10().round() as i64 - 2).max(0) as usize;
    format!("{p:.digits$}%")
}

fn number_label(v: &f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || *v == v.round() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

impl LineChart {
    /// Draws the chart into `area`.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> DrawResult {
        let (x0, x1) = extent(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0))
                .chain(self.marks.iter().map(|m| m.x)),
            self.x_scale,
        );
        let (y0, y1) = extent(
            self.series.iter().flat_map(|s| {
                s.points
                    .iter()
                    .map(|p| p.1)
                    .chain(s.errors.iter().flatten().flat_map(|e| [e.0, e.1]))
            }),
            self.y_scale,
        );
        let log = |s: Scale| s != Scale::Linear;
        match (log(self.x_scale), log(self.y_scale)) {
            (false, false) => self.draw_on(area, x0..x1, y0..y1),
            (true, false) => self.draw_on(area, (x0..x1).log_scale(), y0..y1),
            (false, true) => self.draw_on(area, x0..x1, (y0..y1).log_scale()),
            (true, true) => self.draw_on(area, (x0..x1).log_scale(), (y0..y1).log_scale()),
        }
    }

    fn draw_on<DB, X, Y>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        x: X,
        y: Y,
    ) -> DrawResult
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        let x_fmt = |v: &f64| match self.x_scale {
            Scale::Percentile => percentile_label(v),
            _ => number_label(v),
        };
        let y_fmt = |v: &f64| number_label(v);
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 13))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        let (ylo, yhi) = {
            let r = chart.plotting_area().get_y_range();
            (r.start, r.end)
        };
        for m in &self.marks {
            let c = color_of(&m.color_key);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(m.x, ylo), (m.x, yhi)],
                    c.mix(0.7).stroke_width(1),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    m.label.clone(),
                    (m.x, yhi),
                    (FONT, 11).into_font().color(&c),
                )))
                .map_err(err)?;
        }
        for s in &self.series {
            let c = color_of(&s.color_key);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            if s.line {
                let drawn = chart
                    .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                    .map_err(err)?
                    .label(&s.name);
                let line = move |(x, y): (i32, i32)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (18, 0)], c.stroke_width(2))
                };
                match s.marker {
                    Marker::None => {
                        drawn.legend(line);
                    }
                    Marker::Circle => {
                        drawn.legend(move |p| line(p) + Circle::new((9, 0), 4, c.filled()));
                    }
                    Marker::Triangle => {
                        drawn.legend(move |p| line(p) + TriangleMarker::new((9, 0), 5, c.filled()));
                    }
                }
            } else {
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(err)?
                    .label(&s.name)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
            }
            match s.marker {
                Marker::None => {}
                Marker::Circle => {
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                        .map_err(err)?;
                }
                Marker::Triangle => {
                    chart
                        .draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 5, c.filled())))
                        .map_err(err)?;
                }
            }
            let bars = s.points.iter().zip(&s.errors).filter_map(|(p, e)| {
                let (lo, hi) = (*e)?;
                (lo.is_finite() && hi.is_finite())
                    .then(|| ErrorBar::new_vertical(p.0, lo, p.1, hi, c.stroke_width(1), 8))
            });
            chart.draw_series(bars).map_err(err)?;
        }
        if self.series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .label_font((FONT, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}

impl BarChart {
    /// Draws the chart into `area`.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> DrawResult {
        let n = self.categories.len().max(1) as f64;
        let ymax = self
            .groups
            .iter()
            .flat_map(|g| g.2.iter().flatten().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let ymax = if ymax > 0.0 { ymax * 1.15 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d::<RangedCoordf64, RangedCoordf64>(
                (0.0..n).into(),
                (0.0..ymax).into(),
            )
            .map_err(err)?;
        let cats = self.categories.clone();
        let x_fmt = move |v: &f64| {
            let i = (v - 0.5).round();
            if (v - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                cats.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.categories.len() * 2 + 1)
            .x_label_formatter(&x_fmt)
            .y_desc(&self.y_label)
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 13))
            .y_label_formatter(&|v: &f64| number_label(v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        let k = self.groups.len().max(1) as f64;
        let width = 0.8 / k;
        for (gi, (name, key, values)) in self.groups.iter().enumerate() {
            let c = color_of(key);
            let x_of = |i: usize| i as f64 + 0.1 + gi as f64 * width;
            chart
                .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
                    let v = (*v)?;
                    v.is_finite().then(|| {
                        Rectangle::new([(x_of(i), 0.0), (x_of(i) + width * 0.92, v)], c.filled())
                    })
                }))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels() {
        assert_eq!(percentile_label(&1.0), "0%");
        assert_eq!(percentile_label(&2.0), "50%");
        assert_eq!(percentile_label(&10.0), "90%");
        assert_eq!(percentile_label(&100.0), "99%");
        assert_eq!(percentile_label(&1000.0), "99.9%");
        assert_eq!(percentile_label(&10000.0), "99.99%");
    }

    #[test]
    fn extents_pad_and_skip_nonpositive_on_log_axes() {
        let (lo, hi) = extent([0.0, 10.0].into_iter(), Scale::Linear);
        assert_eq!(lo, 0.0);
        assert!(hi > 10.0);
        let (lo, _) = extent([0.0, 10.0, 100.0].into_iter(), Scale::Log);
        assert!(lo > 0.0 && lo < 10.0);
        assert_eq!(extent(std::iter::empty(), Scale::Log), (1.0, 10.0));
    }
}
