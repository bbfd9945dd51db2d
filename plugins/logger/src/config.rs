use std::sync::Arc;

use seam_core::log_sink::Sink;
use seam_core::{BuildContext, BuildError, Component, GoDuration, Middleware, Problem, Problems, async_trait};

use crate::layout::to_strftime;
use crate::middleware::LoggerMiddleware;
use crate::template;

/// One line per request from a template of Fiber's tags, written to stdout (or `output`): `${time} ${status} ${latency} ${method} ${path}` and more.
///
/// The template is checked when the document loads: an unknown tag is an error at its line.
/// Lines are handed to a writer thread; if the output falls behind a worker by 65536 lines,
/// its new lines are dropped (and the number dropped is written once it catches up) rather than slowing
/// requests.
#[seam_core::component(name = "plugins.logger.middlewares.LoggerMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct LoggerMiddlewareConfig {
    /// The line, with tags: `${pid} ${time} ${status} ${latency} ${ip} ${ips} ${method} ${path} ${url} ${query} ${route} ${protocol} ${host} ${referer} ${ua} ${bytesSent} ${bytesReceived} ${reqHeader:NAME} ${respHeader:NAME} ${locals:KEY} ${requestId} ${error}`, and colors (`${red}` ... `${reset}`). The `${...}` here are tags, not environment variables.
    #[schemars(extend("x-seam-template" = true))]
    pub format: String,
    /// Time zone of `${time}`: `UTC`, `Local`, or an IANA name such as `Europe/Paris`.
    pub time_zone: String,
    /// Layout of `${time}` in Go's notation (`15:04:05`, `2006-01-02T15:04:05Z07:00`).
    pub time_format: String,
    /// How often the text of `${time}` is recomputed.
    pub time_interval: GoDuration,
    /// Leave the color tags out.
    pub disable_colors: bool,
    /// Where lines go: `stdout`, `stderr`, or a file path (appended to).
    pub output: String,
}

impl Default for LoggerMiddlewareConfig {
    fn default() -> Self {
        LoggerMiddlewareConfig {
            format: "${pid} | ${time} | ${status} | ${latency} | ${ip} | ${method} | ${path} | ${error}\n".into(),
            time_zone: "UTC".into(),
            time_format: "15:04:05".into(),
            time_interval: GoDuration(std::time::Duration::from_millis(1)),
            disable_colors: false,
            output: "stdout".into(),
        }
    }
}

#[async_trait]
impl Component for LoggerMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let parts = problems.check(template::parse(&self.format).map_err(|e| {
            let problem = Problem::field("format", e.message);
            match e.help {
                Some(help) => problem.help(help),
                None => problem,
            }
        }));
        let zone = problems.check(match self.time_zone.as_str() {
            "Local" | "local" => Ok(jiff::tz::TimeZone::system()),
            "UTC" | "" => Ok(jiff::tz::TimeZone::UTC),
            name => jiff::tz::TimeZone::get(name).map_err(|_| {
                Problem::field("timeZone", format!("unknown time zone `{name}`"))
                    .help("write `UTC`, `Local` or an IANA name such as `Europe/Paris`")
            }),
        });
        problems.into_result()?;
        let sink = Sink::open(&self.output).map_err(|e| Problem::field("output", e))?;
        Ok(Arc::new(LoggerMiddleware::new(
            parts.unwrap_or_default(),
            zone.unwrap_or(jiff::tz::TimeZone::UTC),
            to_strftime(&self.time_format),
            self.time_interval.get(),
            self.disable_colors,
            sink,
        )))
    }
}
