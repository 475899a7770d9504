//! Timing for the benchmarks: median, min and max of a few runs, printed
//! as `12.3 ms [11.9–14.0]`. Shared by every bench target.

use std::time::{Duration, Instant};

pub struct Timing {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}–{}]", ms(self.median), ms(self.min), ms(self.max))
    }
}

/// `runs` timings of `f` after one untimed warm-up run (page cache, sshd's
/// first fork).
pub fn measure(runs: usize, mut f: impl FnMut()) -> Timing {
    f();
    measure_after(runs, || {}, f)
}

/// `runs` timings of `f`, each after an untimed `setup`.
pub fn measure_after(runs: usize, mut setup: impl FnMut(), mut f: impl FnMut()) -> Timing {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            setup();
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    Timing {
        median: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// `a / b`, for the ratios the reports print.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
