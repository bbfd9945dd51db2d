use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use seam_core::{Action, BuildContext, BuildError, Component, PathStep, Problem, Problems, async_trait};

use crate::action::RespondAction;

/// Answers without any upstream: a fixed status, body and headers, or (`echo: true`) a JSON echo of the request.
///
/// The echo shows the method, path, route parameters, query and headers exactly as an
/// upstream behind the gateway would receive them, which makes it handy for trying
/// middlewares out.
#[seam_core::component(name = "plugins.respond.actions.RespondAction")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct RespondActionConfig {
    /// HTTP status code of the reply.
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
    /// Body of the reply (ignored with `echo: true`).
    pub body: String,
    /// Headers of the reply, `Name: value`.
    pub headers: BTreeMap<String, String>,
    /// Reply with a JSON description of the request instead of `body`.
    pub echo: bool,
}

impl Default for RespondActionConfig {
    fn default() -> Self {
        RespondActionConfig { status: 200, body: String::new(), headers: BTreeMap::new(), echo: false }
    }
}

impl RespondActionConfig {
    fn header_map(&self, problems: &mut Problems) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            let at = || vec![PathStep::Key("headers".into()), PathStep::Key(name.clone())];
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Problem::at(at(), format!("`{name}` is not a valid header name")));
            let value = HeaderValue::from_str(value)
                .map_err(|_| Problem::at(at(), format!("the value of header `{name}` is not a valid header value")));
            if let (Some(header), Some(value)) = (problems.check(header), problems.check(value)) {
                map.append(header, value);
            }
        }
        map
    }
}

#[async_trait]
impl Component for RespondActionConfig {
    type Output = dyn Action;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        let mut problems = Problems::new();
        let status = problems.check(
            StatusCode::from_u16(self.status)
                .ok()
                .filter(|_| self.status >= 100)
                .ok_or_else(|| Problem::field("status", format!("{} is not an HTTP status code", self.status))),
        );
        problems.ensure(!self.echo || self.body.is_empty(), || {
            Problem::field("body", "`body` has no effect with `echo: true`").help("remove `body` or `echo`")
        });
        let headers = self.header_map(&mut problems);
        let status = problems.finish(status)?;
        Ok(Arc::new(RespondAction::new(status, headers, self.body.clone().into(), self.echo)))
    }
}
