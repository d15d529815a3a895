//! `--metrics ADDR`: Prometheus' text exposition format over plain HTTP, for a
//! cluster's Prometheus (and Grafana) to see live figures of servers and bench
//! workers. Writing the format and answering `GET /metrics` take a few dozen
//! lines each, so no HTTP framework or metrics crate is pulled in.

pub mod http;
pub mod server;

use std::fmt::Write;

/// The Content-Type of the text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One scrape's text, metric family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

/// Labels of one sample, `name="value"` pairs.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: Labels, value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.text, "{k}=\"{v}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }

    /// A counter family (`name` ends in `_total`), one sample per label set.
    pub fn counter(&mut self, name: &str, help: &str, samples: &[(Labels, u64)]) {
        self.family(name, "counter", help);
        for (labels, v) in samples {
            self.sample(name, labels, *v as f64);
        }
    }

    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }

    /// A histogram family: cumulative counts by upper bound (`None` is `+Inf`,
    /// and comes last), then `_sum` and `_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        buckets: &[(Option<f64>, u64)],
        sum: f64,
        count: u64,
    ) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (le, c) in buckets {
            let le = le.map_or_else(|| "+Inf".to_string(), number);
            self.sample(&bucket, &[("le", &le)], *c as f64);
        }
        self.sample(&format!("{name}_sum"), &[], sum);
        self.sample(&format!("{name}_count"), &[], count as f64);
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// A number as Prometheus reads it: integers without a fraction, the rest as
/// Rust prints them (shortest form that reads back exactly).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_as_the_format_wants_them() {
        let mut e = Exposition::default();
        e.counter(
            "x_bytes_total",
            "Bytes, \"quoted\"",
            &[(&[("direction", "in")], 3), (&[("direction", "out")], 4)],
        );
        e.histogram(
            "x_seconds",
            "Latency",
            &[(Some(0.0001), 1), (Some(1.0), 2), (None, 3)],
            1.5,
            3,
        );
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP x_bytes_total Bytes, \"quoted\"\n# TYPE x_bytes_total counter\n\
             x_bytes_total{direction=\"in\"} 3\nx_bytes_total{direction=\"out\"} 4\n\
             # HELP x_seconds Latency\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{le=\"0.0001\"} 1\nx_seconds_bucket{le=\"1\"} 2\n\
             x_seconds_bucket{le=\"+Inf\"} 3\nx_seconds_sum 1.5\nx_seconds_count 3\n"
        );
    }
}
